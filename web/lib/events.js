// @ts-check
// The record's events in one line of Chinese each: the console's activity table (every detail
// of the workflow: tallies, lot seeds, motion results) and the archive's timeline (a shorter
// line that names who acted, as the timeline has no column for it). Pure: no DOM.

import { EVENT_LABELS, KIND_LABELS, WARNING_LABELS, WORKFLOW_LABELS, reasonLabel } from "./labels.js";
import { describeHappened } from "./opening.js";
import { formatTime } from "./time.js";

/** Texts a workflow step may carry, in the order they are shown. */
const TEXTS = ["reason", "text", "description", "handling"];

/** @typedef {import("./wire").RecordEvent} RecordEvent */

/**
 * The console's line for `event`: `name(id)` names a participant, `seat(key)` a seat.
 * The last voter of a round is not news; the result is.
 * @param {RecordEvent} event
 * @param {{ name: (id: string) => string, seat: (key: string) => string }} names
 */
export function describeEvent(event, { name, seat }) {
  const d = event.data || {};
  if (event.kind === "workflow") {
    const x = d.details || {};
    const parts = [WORKFLOW_LABELS[d.happened] || d.happened];
    if (x.expert && !["leader_elected", "election_tied", "leader_drawn"].includes(d.happened)) parts.push(name(x.expert));
    for (const key of TEXTS) if (x[key]) parts.push(x[key]);
    // An excusal may complete the round or the motion that waited only for that expert.
    const round = x.election || x;
    if (x.election) parts.push(WORKFLOW_LABELS[x.election.happened] || x.election.happened);
    if (round.leader) parts.push(`组长：${name(round.leader)}`);
    if (round.tally) parts.push(`票数：${Object.entries(/** @type {Record<string, number>} */ (round.tally)).map(([c, n]) => `${name(c)} ${n}`).join("，")}`);
    if (round.tally && round.abstained) parts.push(`弃权 ${round.abstained}`);
    if (round.seed) parts.push(`抽签种子 ${round.seed.slice(0, 16)}…（可核验）`);
    if (x.title) parts.push(x.title);
    if (x.option) parts.push(`意见：${x.option}`);
    if (x.abstain) parts.push("弃权");
    const motion = typeof x.motion === "object" ? x.motion : x;
    if (motion.result && typeof motion.result === "object") {
      const counts = Object.entries(/** @type {Record<string, number>} */ (motion.result)).map(([o, n]) => `${o} ${n}`);
      if (motion.abstained) counts.push(`弃权 ${motion.abstained}`);
      parts.push(`${typeof x.motion === "object" ? "表决结束，" : ""}结果：${counts.join("，")}`);
    }
    if (typeof x.result === "string") parts.push(`结果：${x.result}`);
    if (d.happened === "ballot_cast") parts.push(`（${x.voted}/${x.of}，投票内容保密）`);
    return parts.join(" · ");
  }
  const parts = [EVENT_LABELS[event.kind] || event.kind];
  if (event.kind === "door_access") {
    return [...parts, d.venue_name, d.name, d.direction === "in" ? "进入" : "离开", formatTime(new Date(d.at))].join(" · ");
  }
  if (event.kind === "warning_started" || event.kind === "warning_ended") {
    parts.push(WARNING_LABELS[d.kind] || d.kind);
    if (d.seat) parts.push(seat(d.seat));
    if (typeof d.seconds === "number") parts.push(`持续 ${Math.round(d.seconds)} 秒`);
    if (typeof d.reason === "string") parts.push(reasonLabel(d.reason));
    return parts.join(" · ");
  }
  if (d.seat) parts.push(seat(d.seat));
  if (d.kind && event.kind.startsWith("track")) parts.push(KIND_LABELS[d.kind] || d.kind);
  if (d.label) parts.push(d.label);
  if (d.reason && typeof d.reason === "string") parts.push(reasonLabel(d.reason));
  if (d.text) parts.push(d.text);
  return parts.join(" · ");
}

/**
 * The archive timeline's line for `event`: the step, its expert and leader and its texts, and
 * who acted. `people` are those the viewer may see, by id (a party sees no expert's name).
 * @param {RecordEvent} event
 * @param {Record<string, import("./wire").Person>} people
 */
export function describeEventBrief(event, people) {
  const d = event.data || {};
  /** @param {string} id */
  const name = (id) => people[id]?.name || "";
  if (event.kind === "workflow") {
    const x = d.details || {};
    const parts = [WORKFLOW_LABELS[d.happened] || d.happened];
    if (x.expert && !["leader_elected", "election_tied"].includes(d.happened)) parts.push(name(x.expert));
    if (x.leader) parts.push(`组长：${name(x.leader)}`);
    for (const key of ["title", ...TEXTS]) if (x[key]) parts.push(x[key]);
    return parts.join(" · ");
  }
  if (event.kind === "opening") {
    // A command the opening accepted: what happened, as the hall's log says it.
    const line = describeHappened({ kind: d.happened, data: d.details || {} }, (id) => name(id) || "投标人");
    const actor = event.actor && people[event.actor] ? people[event.actor].name : "";
    return actor && !line.includes(actor) ? `${line} · ${actor}` : line;
  }
  if (event.kind === "clarification") {
    const who = d.name || name(d.bidder);
    return d.happened === "clarification_asked"
      ? `评标委员会向 ${who} 提出第 ${d.number} 号澄清问题：${d.question}`
      : `${who} 答复第 ${d.number} 号澄清问题：${d.answer}`;
  }
  const parts = [EVENT_LABELS[event.kind] || event.kind];
  if (event.kind.startsWith("warning_") && d.kind) parts.push(WARNING_LABELS[d.kind] || d.kind);
  if (d.label) parts.push(d.label);
  if (typeof d.reason === "string") parts.push(reasonLabel(d.reason));
  if (d.text) parts.push(d.text);
  if (d.name) parts.push(d.name);
  if (event.actor && people[event.actor]) parts.push(people[event.actor].name);
  return parts.join(" · ");
}
