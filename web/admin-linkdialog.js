// @ts-check
// What the console does with any personal link, a session person's, a tenderer's or bidder's,
// an opening's or a trading centre's people's: the dialog that asks why before a link is
// revoked or re-issued, and the box (at the top of 人员与链接, of 开标, in a centre's people)
// that shows a link's address once, with a copy button. Each box is named by the prefix of its
// elements' ids: `<box>-link`, `-who`, `-url`, `-copy`, `-note`, `-close`.

import { copyField } from "/static/admin-shared.js";
import { $, control } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { refuse, say, submitting } from "/static/lib/forms.js";
import { text } from "/static/lib/placeforms.js";
import { checkRevokeReason } from "/static/lib/projectforms.js";

/**
 * A revocation or a re-issue, as the dialog offers it: whose link (`who`, "投标人 某公司"), what
 * the dialog says, and `act`, which makes the request with the reason given ("" when none) and
 * shows what came of it; `after` runs once the dialog is closed (the list read again). A
 * re-issue may need its reason too (`reasonRequired`: a centre's people's).
 * @typedef {{ how: "revoke" | "reissue", who: string, text: string, act: (reason: string) => Promise<void>, after: () => Promise<void>, reasonRequired?: boolean }} LinkAction
 */

/** The action the open dialog is for. @type {{ action: LinkAction | null }} */
const dialog = { action: null };

/**
 * Ask why, then revoke or re-issue a link (a revocation needs a reason, a re-issue may have one).
 * @param {LinkAction} action
 */
export function askLink(action) {
  dialog.action = action;
  const form = $("#link-form", HTMLFormElement);
  form.reset();
  refuse(form, null);
  const revoke = action.how === "revoke";
  $("#link-dialog-title").textContent = revoke ? `收回 ${action.who} 的链接` : `重新发放 ${action.who} 的链接`;
  $("#link-dialog-text").textContent = action.text;
  const optional = !revoke && !action.reasonRequired;
  control(form, "reason").setAttribute("placeholder", revoke ? "收回原因，记入操作记录"
    : optional ? "原因（可不填，默认“重新发放”）" : "重新发放的原因，记入操作记录");
  const submit = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
  submit.textContent = revoke ? "收回链接" : "重新发放";
  submit.className = revoke ? "btn btn-danger" : "btn btn-primary";
  $("#link-dialog", HTMLDialogElement).showModal();
  control(form, "reason").focus();
}

/** @param {SubmitEvent} event */
async function actOnLink(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const { action } = dialog;
  if (!action) return;
  const reason = control(form, "reason").value.trim();
  if (action.how === "revoke" && refuse(form, checkRevokeReason(reason))) return;
  if (action.how === "reissue" && action.reasonRequired && refuse(form, text("reason", reason, "重新发放的原因", 200))) return;
  await submitting(form, async () => {
    try {
      await action.act(reason);
    } catch (err) {
      say(form, messageOf(err));
      return;
    }
    $("#link-dialog", HTMLDialogElement).close();
    await action.after();
  });
}

/**
 * Show a link's address, once, to copy.
 * @param {string} who "主持人 张主持 的个人链接"
 * @param {string} url
 * @param {string} note how long it lasts, and that it shows only this once
 * @param {string} [box] which box: the prefix of its elements' ids
 */
export function showIssued(who, url, note, box = "issued") {
  $(`#${box}-who`).textContent = who;
  $(`#${box}-url`, HTMLInputElement).value = url;
  $(`#${box}-copy`).textContent = "复制链接";
  $(`#${box}-note`).textContent = note;
  $(`#${box}-link`).hidden = false;
  $(`#${box}-link`).scrollIntoView({ block: "nearest" });
}

/**
 * The box no longer shows a link that ended: hidden when it shows `who`'s.
 * @param {string} who
 * @param {string} [box]
 */
export function hideIssued(who, box = "issued") {
  if ($(`#${box}-who`).textContent?.startsWith(`${who} `)) hideAnyIssued(box);
}

/**
 * Hide the box, and the address it showed.
 * @param {string} [box]
 */
export function hideAnyIssued(box = "issued") {
  $(`#${box}-link`).hidden = true;
  $(`#${box}-url`, HTMLInputElement).value = "";
}

/**
 * Wire a box's copy and close buttons.
 * @param {string} box
 */
export function initIssuedBox(box) {
  copyField($(`#${box}-url`, HTMLInputElement), $(`#${box}-copy`));
  $(`#${box}-close`).addEventListener("click", () => hideAnyIssued(box));
}

/** Wire the dialog, and the copy and close buttons of 人员与链接's box. */
export function initLinkDialog() {
  $("#link-form", HTMLFormElement).addEventListener("submit", actOnLink);
  $("#link-dialog-close").addEventListener("click", () => $("#link-dialog", HTMLDialogElement).close());
  $("#link-dialog").addEventListener("close", () => { dialog.action = null; });
  initIssuedBox("issued");
}
