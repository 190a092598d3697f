// @ts-check
// Replacements (替补专家, 7.1.3-3b) as the committee's workflow rules them
// (roomserver/workflow.py, roomserver/committee.py): whose seat may be given to a replacement
// now, whom a seat's expert replaced, and how far a replacement has joined: identity check,
// commitment letter, signing key. A replacement drawn after the check-in phase is checked in
// and commits in the later phase, and acts only once that is done. Pure: no DOM.

/** @typedef {import("./wire").WorkflowState} WorkflowState */

const ACTIVE = ["check_in", "election", "evaluation", "signing"];
/** The phases after check-in, in which only a replacement drawn since is still checked in. */
export const LATER_PHASES = ["election", "evaluation", "signing"];
/** Refusals of a redraw after which the replacement is named (by the expert management
 * system) instead: no draw of this system to repeat, or the pool has nobody left who fits. */
const NAMED_AFTER = ["not_drawn_here", "draw_shortfall"];

/**
 * The expert whose seat `id` took, or null for an expert of the first roster.
 * @param {WorkflowState} state
 * @param {string} id
 * @returns {string | null}
 */
export function predecessor(state, id) {
  const found = Object.entries(state.replaced_by).find(([, replacement]) => replacement === id);
  return found ? found[0] : null;
}

/**
 * Whether `id` is a replacement who arrived after the check-in phase (and so checks in now).
 * @param {WorkflowState} state
 * @param {string} id
 */
export function joinsLate(state, id) {
  return LATER_PHASES.includes(state.phase) && predecessor(state, id) !== null;
}

/**
 * Where an expert stands in joining the committee: "check_in" (waits for staff to take the
 * identity picture and confirm), "commit" (to sign the commitment letter), "key" (the signing
 * key is being registered), or null when there is nothing to join: outside check-in for all
 * but late replacements, or done.
 * @param {WorkflowState} state
 * @param {string} id
 * @returns {"check_in" | "commit" | "key" | null}
 */
export function joiningStep(state, id) {
  if (state.phase !== "check_in" && !joinsLate(state, id)) return null;
  if (!state.seated.includes(id)) return null;
  if (!state.checked_in.includes(id)) return "check_in";
  if (!state.committed.includes(id)) return "commit";
  if (!state.keys.includes(id)) return "key";
  return null;
}

/**
 * Whether staff may check `id` in now: everybody seated in the check-in phase, and later only
 * a replacement drawn since.
 * @param {WorkflowState} state
 * @param {string} id
 */
export function mayCheckIn(state, id) {
  return !state.paused && joiningStep(state, id) === "check_in";
}

/**
 * Whether the seat of `id` can be given to a replacement now: "left" for an expert who
 * withdrew (回避) or was excused (请离席), "leave" for one who asked for leave before check-in
 * opened, null otherwise (signed, already replaced, a ballot of the open round cast, the
 * session paused or over). An expert on leave later is excused first, with the reason: what
 * waited only for them goes on at once.
 * @param {WorkflowState} state
 * @param {string} id
 * @returns {"left" | "leave" | null}
 */
export function replaceable(state, id) {
  if (state.paused || (state.phase !== "scheduled" && !ACTIVE.includes(state.phase))) return null;
  if (state.replaced_by[id] || state.signed.includes(id)) return null;
  if (state.phase === "election" && state.election.voted.includes(id)) return null;
  if (state.withdrawn.includes(id) || state.excused.includes(id)) return "left";
  return state.phase === "scheduled" ? "leave" : null;
}

/**
 * Whether a redraw refused with `code` leaves the seat to a replacement named instead.
 * @param {string | undefined} code
 */
export function offersNamedReplacement(code) {
  return NAMED_AFTER.includes(code || "");
}

/** The words for each joining step, as staff read them at the console. */
const STEP_TEXT = { check_in: "待核验身份", commit: "待签承诺书", key: "待登记签名密钥" };

/**
 * The late replacements still joining, each with where they stand: [id, "待核验身份"].
 * @param {WorkflowState} state
 * @returns {Array<[string, string]>}
 */
export function joiningReplacements(state) {
  return Object.values(state.replaced_by).flatMap((id) => {
    const step = joinsLate(state, id) ? joiningStep(state, id) : null;
    return step ? [/** @type {[string, string]} */ ([id, STEP_TEXT[step]])] : [];
  });
}

/**
 * What a late replacement's seat page says above their step: the phase they join.
 * @param {WorkflowState} state
 */
export function lateLead(state) {
  return `您是替补专家，本场评标已进入“${state.phase_label}”环节。完成身份核验、签署承诺书后即可参加。`;
}
