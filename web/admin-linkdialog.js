// @ts-check
// What 人员与链接 does with any link, a person's or a tenderer's or bidder's: the dialog that
// asks why before a link is revoked or re-issued, and the box at the top of the section that
// shows a link's address once, with a copy button.

import { copyField } from "/static/admin-shared.js";
import { $, control } from "/static/lib/dom.js";
import { messageOf } from "/static/lib/errors.js";
import { refuse, say, submitting } from "/static/lib/forms.js";
import { checkRevokeReason } from "/static/lib/projectforms.js";

/**
 * A revocation or a re-issue, as the dialog offers it: whose link (`who`, "投标人 某公司"), what
 * the dialog says, and `act`, which makes the request with the reason given ("" when none) and
 * shows what came of it; `after` runs once the dialog is closed (the list read again).
 * @typedef {{ how: "revoke" | "reissue", who: string, text: string, act: (reason: string) => Promise<void>, after: () => Promise<void> }} LinkAction
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
  control(form, "reason").setAttribute("placeholder", revoke ? "收回原因，记入操作记录" : "原因（可不填，默认“重新发放”）");
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
 */
export function showIssued(who, url, note) {
  $("#issued-who").textContent = who;
  $("#issued-url", HTMLInputElement).value = url;
  $("#issued-copy").textContent = "复制链接";
  $("#issued-note").textContent = note;
  $("#issued-link").hidden = false;
  $("#issued-link").scrollIntoView({ block: "nearest" });
}

/**
 * The box no longer shows a link that ended: hidden when it shows `who`'s.
 * @param {string} who
 */
export function hideIssued(who) {
  if ($("#issued-who").textContent?.startsWith(`${who} `)) hideAnyIssued();
}

/** Hide the box, and the address it showed. */
export function hideAnyIssued() {
  $("#issued-link").hidden = true;
  $("#issued-url", HTMLInputElement).value = "";
}

/** Wire the dialog, and the box's copy and close buttons. */
export function initLinkDialog() {
  $("#link-form", HTMLFormElement).addEventListener("submit", actOnLink);
  $("#link-dialog-close").addEventListener("click", () => $("#link-dialog", HTMLDialogElement).close());
  $("#link-dialog").addEventListener("close", () => { dialog.action = null; });
  copyField($("#issued-url", HTMLInputElement), $("#issued-copy"));
  $("#issued-close").addEventListener("click", hideAnyIssued);
}
