// @ts-check
// What the venue console knows (its hello, the roster, the workflow, the people, arrivals) and
// the questions every part of it asks of that: who is at this console, what may they do, whose
// name is an id, which seat is a key; and its REST calls about the session.

import { requestJson } from "/static/lib/api.js";
import { ROLE_LABELS } from "/static/lib/labels.js";

/**
 * @typedef {import("/static/lib/wire").Roster} Roster
 * @typedef {import("/static/lib/wire").RosterSeat} RosterSeat
 * @typedef {import("/static/lib/wire").WorkflowState} WorkflowState
 * @typedef {import("/static/lib/wire").RecordEvent} RecordEvent
 * @typedef {import("/static/lib/wire").Person} Person
 */

/**
 * The console's `hello`: the session, who this is, the venues, the people, and the state.
 * @typedef {{
 *   session: { id: string, project_name: string, project_code: string, scheduled_start: string, late_after_s: number },
 *   me: { role: string, name: string, venue?: string | null, main_host: boolean },
 *   venues: Array<{ id: string, name: string }>,
 *   people: Array<Person & { id: string }>,
 *   roster: Roster, workflow: WorkflowState, activity: RecordEvent[],
 * }} Hello
 */

/**
 * @type {{
 *   hello: Hello | null, roster: Roster | null, workflow: WorkflowState | null,
 *   people: Map<string, Person>, activity: RecordEvent[], arrivals: Map<string, number>,
 * }}
 */
export const app = { hello: null, roster: null, workflow: null, people: new Map(), activity: [], arrivals: new Map() };

/** The hello (the page acts only after it came). */
export const hello = () => /** @type {Hello} */ (app.hello);
/** The roster's seats (the page acts only after the hello brought them). */
export const seats = () => /** @type {Roster} */ (app.roster).seats;
/** The workflow state (the page acts only after the hello brought it). */
export const workflow = () => /** @type {WorkflowState} */ (app.workflow);

export const me = () => hello().me;
export const isHost = () => me().role === "host";
export const isMainHost = () => me().main_host;
export const canAct = () => ["host", "staff"].includes(me().role);

/**
 * Host and staff act at a venue's seats; staff at their own venue only.
 * @param {string} venueId
 */
export const actsAt = (venueId) => canAct() && (isHost() || me().venue === venueId);

/** @param {string | null | undefined} id */
export function nameOf(id) {
  if (!id) return "系统";
  if (id.startsWith("door:")) return "门禁系统";
  const known = app.people.get(id)?.name;
  if (known) return known;
  // Somebody on no roster (an administrator, a centre-wide supervisor) is ROLE:NAME.
  const [role, name] = id.split(":", 2);
  return name && Object.hasOwn(ROLE_LABELS, role) ? `${ROLE_LABELS[role]} ${name}` : id.slice(0, 8);
}

/** @param {string} id */
export function venueName(id) {
  const venue = hello().venues.find((v) => v.id === id);
  return venue ? venue.name : "其他评标室";
}

/** @param {string} key */
export function seatLabel(key) {
  const seat = (app.roster ? app.roster.seats : []).find((s) => s.key === key);
  return seat ? seat.label : key;
}

/** @param {string} expertId */
export const seatOf = (expertId) => /** @type {RosterSeat} */ (seats().find((s) => s.expert_id === expertId));

/**
 * A new roster: its experts are known by name from now on (a replacement came after the hello).
 * @param {Roster} roster
 */
export function takeRoster(roster) {
  app.roster = roster;
  for (const seat of roster.seats) {
    if (!app.people.has(seat.expert_id)) app.people.set(seat.expert_id, { id: seat.expert_id, name: seat.expert_name, role: "expert" });
  }
}

/**
 * A call about this session: its JSON answer, or an ApiError saying why in Chinese.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
export function api(method, path, body) {
  return requestJson(`/api/sessions/${hello().session.id}${path}`, { method, json: body });
}
