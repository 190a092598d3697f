// Replacements as the workflow rules them: whose seat may be given away, and how far a
// replacement drawn after check-in has joined (identity check, commitment letter, key).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  joiningReplacements,
  joiningStep,
  joinsLate,
  lateLead,
  mayCheckIn,
  offersNamedReplacement,
  predecessor,
  replaceable,
} from "../../web/lib/replacements.js";

/**
 * A workflow state as the server sends it: e1..e3 seated, checked in, committed, keys
 * registered, in `phase`; `more` overrides.
 * @param {string} phase
 * @param {Record<string, unknown>} [more]
 * @returns {import("../../web/lib/wire").WorkflowState}
 */
function state(phase, more = {}) {
  const all = ["e1", "e2", "e3"];
  return {
    phase,
    phase_label: { scheduled: "未开始", check_in: "签到", election: "推选组长", evaluation: "评审", signing: "签署评标报告" }[phase] || phase,
    paused: false,
    experts: 3,
    seated: all,
    checked_in: phase === "scheduled" ? [] : all,
    committed: phase === "scheduled" ? [] : all,
    keys: phase === "scheduled" ? [] : all,
    withdrawn: [],
    excused: [],
    signed: [],
    replaced_by: {},
    leader: null,
    election: { round: 0, voted: [], candidates: [], max_rounds: 1 },
    motions: [],
    incidents: [],
    report: null,
    ...more,
  };
}

/** e3 excused during `phase` and replaced by e4, who has done nothing yet. */
const replacedIn = (/** @type {string} */ phase, /** @type {Record<string, unknown>} */ more = {}) =>
  state(phase, {
    seated: ["e1", "e2", "e4"],
    excused: ["e3"],
    withdrawn: ["e3"],
    checked_in: ["e1", "e2"],
    committed: ["e1", "e2"],
    keys: ["e1", "e2"],
    replaced_by: { e3: "e4" },
    ...more,
  });

test("a seat's expert knows whom they replaced; the first roster replaced nobody", () => {
  const s = replacedIn("evaluation");
  assert.equal(predecessor(s, "e4"), "e3");
  assert.equal(predecessor(s, "e1"), null);
});

test("a replacement after check-in joins step by step: identity, letter, key, then the phase", () => {
  for (const phase of ["election", "evaluation", "signing"]) {
    let s = replacedIn(phase);
    assert.equal(joinsLate(s, "e4"), true, phase);
    assert.equal(joiningStep(s, "e4"), "check_in", phase);
    assert.equal(mayCheckIn(s, "e4"), true, phase);
    s = { ...s, checked_in: [...s.checked_in, "e4"] };
    assert.equal(joiningStep(s, "e4"), "commit");
    assert.equal(mayCheckIn(s, "e4"), false, "checked in once");
    s = { ...s, committed: [...s.committed, "e4"] };
    assert.equal(joiningStep(s, "e4"), "key");
    s = { ...s, keys: [...s.keys, "e4"] };
    assert.equal(joiningStep(s, "e4"), null, "joined: the phase itself");
  }
});

test("after check-in nobody but a replacement is checked in", () => {
  const s = replacedIn("evaluation", { checked_in: ["e1"], committed: ["e1"], seated: ["e1", "e2", "e4"] });
  assert.equal(mayCheckIn(s, "e2"), false, "an expert of the first roster is not checked in late");
  assert.equal(joiningStep(s, "e2"), null);
  assert.equal(joinsLate(replacedIn("check_in"), "e4"), false, "in check-in everybody checks in");
});

test("in the check-in phase everybody goes through the same steps", () => {
  const s = state("check_in", { checked_in: ["e1"], committed: [], keys: [] });
  assert.equal(joiningStep(s, "e1"), "commit");
  assert.equal(joiningStep(s, "e2"), "check_in");
  assert.equal(mayCheckIn(s, "e2"), true);
  assert.equal(mayCheckIn({ ...s, paused: true }, "e2"), false, "not while paused");
  assert.equal(joiningStep({ ...s, seated: ["e1", "e3"], excused: ["e2"] }, "e2"), null, "excused");
});

test("a seat is given away when its expert withdrew or was excused, before check-in for leave", () => {
  assert.equal(replaceable(state("evaluation", { excused: ["e3"], seated: ["e1", "e2"] }), "e3"), "left");
  assert.equal(replaceable(state("check_in", { withdrawn: ["e2"], seated: ["e1", "e3"] }), "e2"), "left");
  assert.equal(replaceable(state("scheduled"), "e1"), "leave", "asked for leave before check-in");
  assert.equal(replaceable(state("evaluation"), "e1"), null, "a seated expert is excused first");
});

test("a seat is not given away twice, after a signature, mid-ballot, while paused or ended", () => {
  const gone = { excused: ["e3"], seated: ["e1", "e2"] };
  assert.equal(replaceable(replacedIn("evaluation"), "e3"), null, "already replaced");
  assert.equal(replaceable(state("signing", { ...gone, signed: ["e3"] }), "e3"), null);
  const voting = state("election", { ...gone, election: { round: 1, voted: ["e3"], candidates: [], max_rounds: 1 } });
  assert.equal(replaceable(voting, "e3"), null, "their ballot counts in the open round");
  assert.equal(replaceable(state("evaluation", { ...gone, paused: true }), "e3"), null);
  assert.equal(replaceable(state("ended", gone), "e3"), null);
});

test("the named replacement is offered when there is no draw to repeat or nobody left", () => {
  assert.equal(offersNamedReplacement("not_drawn_here"), true);
  assert.equal(offersNamedReplacement("draw_shortfall"), true);
  assert.equal(offersNamedReplacement("illegal_command"), false);
  assert.equal(offersNamedReplacement(undefined), false);
});

test("the console lists the late replacements still joining, with their step", () => {
  const s = replacedIn("signing");
  assert.deepEqual(joiningReplacements(s), [["e4", "待核验身份"]]);
  const committed = { ...s, checked_in: [...s.checked_in, "e4"], committed: [...s.committed, "e4"] };
  assert.deepEqual(joiningReplacements(committed), [["e4", "待登记签名密钥"]]);
  assert.deepEqual(joiningReplacements({ ...committed, keys: [...committed.keys, "e4"] }), []);
  assert.deepEqual(joiningReplacements(replacedIn("check_in")), [], "check-in shows everybody's progress");
  assert.match(lateLead(s), /“签署评标报告”环节/);
});
