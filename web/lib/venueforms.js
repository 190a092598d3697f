// @ts-check
// A venue's details as the administration's forms read them (评标室): whether it may be a main
// or a sub venue, its room cameras' RTSP addresses (one a line, at most 8), a change that sends
// only what was changed, and a door-system token's term. The server answers the addresses with
// any password as ***: such a line is never sent back. Pure: no DOM.

export const MAX_CAMERAS = 8;
/** The server's limit on the part after `rtsp://`. */
const URL_REST_MAX = 490;
export const DOOR_DAYS = Object.freeze({ min: 1, max: 3650, initial: 365 });

/** A refused field. @typedef {{ field: string, message: string } | null} Problem */

/**
 * The addresses in a textarea, one a line, blank lines left out.
 * @param {string} text
 * @returns {string[]}
 */
export function cameraLines(text) {
  return text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/**
 * Whether an address still carries the *** the server shows in place of its password.
 * @param {string} url
 */
export function hidesPassword(url) {
  return /^rtsps?:\/\/[^:/@\s]*:\*\*\*@/.test(url);
}

/**
 * Why one address is refused (said of line `n`), or null: `rtsp://` or `rtsps://`, a host, no
 * space, not too long, and no *** for a password.
 * @param {string} url
 * @param {number} n
 * @returns {string | null}
 */
function addressProblem(url, n) {
  const where = `第 ${n} 个摄像机地址`;
  const scheme = /^(rtsps?):\/\//i.exec(url);
  if (!scheme) return `${where}应以 rtsp:// 或 rtsps:// 开头`;
  if (scheme[1] !== scheme[1].toLowerCase()) return `${where}应以小写的 rtsp:// 或 rtsps:// 开头`;
  const rest = url.slice(scheme[0].length);
  if (/\s/.test(rest)) return `${where}中不能有空格`;
  if (rest.length > URL_REST_MAX) return `${where}过长（rtsp:// 之后最多 ${URL_REST_MAX} 个字符）`;
  const authority = rest.split("/")[0];
  const host = authority.slice(authority.lastIndexOf("@") + 1);
  if (!host || host.startsWith(":")) return `${where}缺少摄像机的 IP 地址或主机名`;
  if (hidesPassword(url)) return `${where}的密码显示为 ***，请重新填写该地址的密码`;
  return null;
}

/**
 * The cameras' addresses in a form: each readable, none twice, at most 8.
 * @param {string} text the textarea, one address a line
 * @returns {Problem}
 */
export function checkCameras(text) {
  const urls = cameraLines(text);
  if (urls.length > MAX_CAMERAS) {
    return { field: "camera_urls", message: `每间评标室最多 ${MAX_CAMERAS} 个摄像机地址，现有 ${urls.length} 个` };
  }
  for (const [i, url] of urls.entries()) {
    const message = addressProblem(url, i + 1);
    if (message) return { field: "camera_urls", message };
    const first = urls.indexOf(url);
    if (first < i) return { field: "camera_urls", message: `第 ${i + 1} 个摄像机地址与第 ${first + 1} 个重复` };
  }
  return null;
}

/**
 * How long a door-system token is valid: whole days, 1 to 3650.
 * @param {string} days
 * @returns {Problem}
 */
export function checkDoorDays(days) {
  const d = days.trim();
  if (!/^\d+$/.test(d) || Number(d) < DOOR_DAYS.min || Number(d) > DOOR_DAYS.max) {
    return { field: "days", message: `有效期应为 ${DOOR_DAYS.min} 至 ${DOOR_DAYS.max} 之间的整数天` };
  }
  return null;
}

/**
 * What a venue's edit form changed, as the body of `POST /api/venues/{id}`: only the fields
 * that differ, and the cameras only when their text was edited (the shown ones are masked).
 * @param {{ name: string, city: string, seat_count: number, main_capable: boolean, sub_capable: boolean, cameras: string[] }} venue
 * @param {{ name: string, city: string, seat_count: string, main_capable: boolean, sub_capable: boolean, camera_urls: string }} fields
 * @returns {Record<string, string | number | boolean | string[]>}
 */
export function venueChange(venue, fields) {
  /** @type {Record<string, string | number | boolean | string[]>} */
  const change = {};
  if (fields.name.trim() !== venue.name) change.name = fields.name.trim();
  if (fields.city.trim() !== venue.city) change.city = fields.city.trim();
  if (Number(fields.seat_count) !== venue.seat_count) change.seat_count = Number(fields.seat_count);
  if (fields.main_capable !== venue.main_capable) change.main_capable = fields.main_capable;
  if (fields.sub_capable !== venue.sub_capable) change.sub_capable = fields.sub_capable;
  const urls = cameraLines(fields.camera_urls);
  if (urls.join("\n") !== venue.cameras.join("\n")) change.camera_urls = urls;
  return change;
}

/**
 * What a venue may be in a session, for its list: "主场 · 副场", "仅主场", "仅副场" or none.
 * @param {{ main_capable: boolean, sub_capable: boolean }} venue
 */
export function rolesText({ main_capable, sub_capable }) {
  if (main_capable && sub_capable) return "主场 · 副场";
  if (main_capable) return "仅作主场";
  if (sub_capable) return "仅作副场";
  return "不作主场或副场";
}

/**
 * A venue's cameras in brief: "2 路" or "未配置".
 * @param {string[]} cameras
 */
export function camerasText(cameras) {
  return cameras.length ? `${cameras.length} 路` : "未配置";
}
