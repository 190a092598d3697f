// @ts-check
// Archive browser and player (档案调阅) for archivists, auditors, supervisors and the parties a
// session's recording is opened to. The list finds sessions; a session opens in a player that
// keeps the room grid, a chosen seat's camera, desktop and sound in sync on one timeline, with
// every event of the record as a mark: one click on a mark moves every track there (一键回放).
//
// document.body.dataset.view: list | session; dataset.state: loading | ready | error.
// window.archivePlayer is the SyncPlayer (its seek() resolves when every track shows the time).

import { SyncPlayer, TrackPlayer } from "/static/archive-player.js";
import { answerOf, requestJson } from "/static/lib/api.js";
import { setBanner as showBanner } from "/static/lib/chrome.js";
import { copyLine } from "/static/lib/copies.js";
import { $, control, el, queryParams } from "/static/lib/dom.js";
import { messageOf, problemText } from "/static/lib/errors.js";
import { describeEventBrief as describe } from "/static/lib/events.js";
import { DOCUMENT_KIND_LABELS, ROLE_LABELS, reasonLabel } from "/static/lib/labels.js";
import { sizeText } from "/static/lib/projectforms.js";
import { api as request, login } from "/static/lib/session.js";
import { formatDuration as duration, formatNumericDateTime, formatTime } from "/static/lib/time.js";

/**
 * @typedef {import("/static/lib/wire").RecordEvent} RecordEvent
 * @typedef {import("/static/lib/wire").Person} Person
 * @typedef {import("/static/archive-player.js").ArchivedTrack} ArchivedTrack
 * @typedef {import("/static/archive-player.js").Segment} Segment
 * @typedef {import("/static/lib/copies.js").ArchiveCopy} ArchiveCopy
 * @typedef {{ ok: boolean, differences: Array<{ where: string, what: string }> }} Verification
 * @typedef {{
 *   session_id: string, session: { project_name: string, project_code?: string, kind?: string },
 *   venues: Record<string, string>, people: Record<string, Person>,
 *   start?: number | null, end?: number | null,
 *   tracks: ArchivedTrack[], gaps: Array<{ track: string, from: number, to: number, reason: string }>,
 *   events: RecordEvent[], damaged: Array<{ what: string }>, parts: Array<{ sealed: boolean }>,
 *   scope: { whole: boolean, windows: Array<[number, number]> },
 *   verification?: Verification | null, viewer: { exports: boolean, grants: boolean },
 *   project_documents?: ProjectDocument[], copies?: ArchiveCopy[] | null,
 * }} ArchivedSession
 * @typedef {{ kind: string, name: string, added_at: string, size: number, sha256: string, sm3: string, url: string }} ProjectDocument
 * @typedef {{
 *   id: string, project_code?: string, project_name: string, venues: string[], experts: number,
 *   start?: number | null, duration_s: number, bytes: number, sealed: boolean, verification?: Verification | null,
 *   copies?: ArchiveCopy[] | null,
 * }} SessionRow
 * @typedef {{ id: string, label: string, color: string, kinds: string[] }} Group
 * @typedef {{ e: RecordEvent, t: number, group: Group }} Mark
 * @typedef {{ key: string, label: string, camera?: ArchivedTrack, microphone?: ArchivedTrack, desktop?: ArchivedTrack }} ArchivedSeat
 */

// The recorder names a seat's screen 桌面 (the live pages say 屏幕).
/** @type {Record<string, string>} */
const TRACK_KIND_LABELS = { camera: "摄像头", microphone: "麦克风", desktop: "桌面" };
// Timeline marks: the kinds of the record, in groups that can be shown or hidden.
/** @type {Group[]} */
const GROUPS = [
  { id: "workflow", label: "评标流程", color: "#1d6ad1", kinds: ["workflow"] },
  { id: "warning", label: "预警", color: "#d28a00", kinds: ["warning_started", "warning_ended", "identity_snapshot"] },
  { id: "supervision", label: "监督", color: "#7b3fb5", kinds: ["supervision_started", "supervision_ended", "supervision_note", "supervision_warning", "warning_acknowledged"] },
  { id: "presence", label: "进出与连接", color: "#1e9a56", kinds: ["seat_connected", "seat_disconnected", "seat_joined", "seat_left", "door_access"] },
  { id: "record", label: "录制", color: "#5f6f82", kinds: ["recording_started", "recording_sealed", "recording_gap", "recording_interrupted", "session_ended", "media_restarted"] },
  { id: "opening", label: "开标流程", color: "#0f7c8c", kinds: ["opening"] },
  { id: "objection", label: "异议与澄清", color: "#c2410c", kinds: ["clarification"] },
];
// An opening's objections are in its log of commands; the timeline shows them apart.
const OBJECTION_STEPS = ["objection_raised", "objection_answered"];

/**
 * @type {{
 *   session: ArchivedSession | null, player: SyncPlayer | null, t0: number, duration: number,
 *   hidden: Set<string>, marks: Mark[],
 * }}
 */
const app = { session: null, player: null, t0: 0, duration: 0, hidden: new Set(), marks: [] };

/** The player of the open session (the controls act only while one is open). */
const player = () => /** @type {SyncPlayer} */ (app.player);
/** The open session's id. */
const openId = () => /** @type {ArchivedSession} */ (app.session).session_id;

// ---- server -------------------------------------------------------------------------------

/** @param {string} method @param {string} path */
const api = (method, path) => requestJson(path, { method });

// Media elements and downloads send the session cookie by themselves (same origin).
/** @param {string} sessionId @returns {(path: string) => string} */
const fileUrl = (sessionId) => (path) => `/api/archive/sessions/${sessionId}/files/${path}`;

// ---- helpers ------------------------------------------------------------------------------

/** @param {number} b */
const megabytes = (b) => `${(b / 1e6).toFixed(1)} MB`;
// Times of the record are Beijing time (北京时间), whatever the viewing computer's zone.
/** @param {number} unix */
const clockOf = (unix) => formatTime(new Date(unix * 1000));
/** @param {number} unix */
const dateTime = (unix) => formatNumericDateTime(new Date(unix * 1000));
/** @param {RecordEvent} e */
const eventTime = (e) => new Date(e.at).getTime() / 1000;

/** @param {Verification | null | undefined} v */
function verificationBadge(v) {
  if (!v) return el("span", { class: "badge" }, "未校验");
  return v.ok ? el("span", { class: "badge ok" }, "完好") : el("span", { class: "badge bad" }, `发现 ${v.differences.length} 处差异`);
}

/**
 * Where the archive is kept and how each copy last checked out: "主档 已校验 …", "副本 未复制"…
 * @param {ArchiveCopy[]} copies
 */
function copiesBadges(copies) {
  return el("div", { class: "copies" }, ...copies.map((copy) => {
    const line = copyLine(copy);
    return el("span", { class: `copy ${line.tone}`, title: line.title, dataset: { location: copy.location, state: copy.state } }, line.text);
  }));
}

/** @param {RecordEvent} e */
function groupOf(e) {
  const step = e.kind === "opening" ? e.data?.happened : null;
  const id = step && OBJECTION_STEPS.includes(step) ? "objection" : null;
  return GROUPS.find((g) => (id ? g.id === id : g.kinds.includes(e.kind)));
}

// ---- list view ----------------------------------------------------------------------------

/** @param {HTMLFormElement} form */
async function search(form) {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(form)) if (value) params.set(key, String(value));
  /** @type {SessionRow[]} */
  let sessions;
  try {
    sessions = await api("GET", `/api/archive/sessions?${params}`);
  } catch (err) {
    document.body.dataset.state = "error";
    return showBanner(messageOf(err));
  }
  $("#sessions").replaceChildren(...sessions.map((s) =>
    el("tr", { dataset: { session: s.id } },
      el("td", {}, s.project_code || "—"),
      el("td", { class: "name" }, s.project_name),
      el("td", { class: "venues" }, s.venues.join("、")),
      el("td", {}, String(s.experts)),
      el("td", {}, s.start ? dateTime(s.start) : "—"),
      el("td", {}, duration(s.duration_s)),
      el("td", {}, megabytes(s.bytes)),
      el("td", {}, s.sealed ? el("span", { class: "badge ok" }, "已封存") : el("span", { class: "badge" }, "录制中")),
      el("td", {}, s.copies ? copiesBadges(s.copies) : verificationBadge(s.verification)),
      el("td", {}, el("button", { class: "btn btn-small", type: "button", dataset: { open: s.id } }, "调阅")))));
  $("#no-sessions").hidden = sessions.length > 0;
  document.body.dataset.state = "ready";
}

// ---- session view -------------------------------------------------------------------------

/** @param {string} sessionId */
async function openSession(sessionId) {
  document.body.dataset.state = "loading";
  /** @type {ArchivedSession} */
  let s;
  try {
    s = await api("GET", `/api/archive/sessions/${sessionId}`);
  } catch (err) {
    document.body.dataset.state = "error";
    return showBanner(messageOf(err));
  }
  showBanner("");
  app.session = s;
  app.t0 = s.start || 0;
  app.duration = Math.max(0, (s.end || 0) - app.t0);
  document.body.dataset.view = "session";
  $("#list-view").hidden = true;
  $("#session-view").hidden = false;
  $("#back").hidden = false;
  $("#title").textContent = s.session.project_name;
  $("#subtitle").textContent = `${s.session.project_code || ""} · ${Object.values(s.venues).join("、")}`;
  renderFacts(s);
  const tracks = new Map(s.tracks.map((t) => [t.id, t]));
  const seats = seatsOf(s.tracks);
  $("#seat-select").replaceChildren(...seats.map((seat) => el("option", { value: seat.key }, seat.label)));
  // A viewer who may see no single seat (a party) gets the room alone.
  for (const node of document.querySelectorAll(".side-screens .screen, #seat-select")) {
    /** @type {HTMLElement} */ (node.closest(".screen, .seat-pick")).hidden = seats.length === 0;
  }
  const audio = s.tracks.filter((t) => t.kind === "audio");
  $("#audio-select").replaceChildren(el("option", { value: "" }, "静音"),
    ...audio.map((t) => el("option", { value: t.id }, t.id === "room-mix" ? "全场声音" : t.label)));
  const previous = app.player;
  if (previous) for (const slot of [...previous.tracks.keys()]) previous.set(slot, null);
  const sync = new SyncPlayer(app.duration, tick);
  app.player = sync;
  /** @type {Window & { archivePlayer?: SyncPlayer }} */ (window).archivePlayer = sync;
  const url = fileUrl(s.session_id);
  // The main screen shows the room grid (an opening's: its hall's information screen), a room
  // camera or any seat's camera (the host's, at an opening), to compare two.
  const videos = s.tracks.filter((t) => t.kind === "video" && !t.id.endsWith("-desktop"));
  const first = (/** @type {{ id: string }} */ t) => Number(t.id === "room-grid" || t.id === "hall-screen");
  videos.sort((a, b) => first(b) - first(a));
  $("#main-select").replaceChildren(...videos.map((t) =>
    el("option", { value: t.id }, t.id === "room-grid" ? "评标室画面（全部机位）" : t.label)));
  const chooseMain = () => {
    const track = tracks.get($("#main-select", HTMLSelectElement).value);
    sync.set("main", track ? new TrackPlayer($("#main-video", HTMLVideoElement), track, app.t0, url, $("#main-gap"), showDamage) : null);
  };
  $("#main-select").onchange = chooseMain;
  chooseMain();
  // A record of events alone (an opening held without media) says so where the picture would be.
  $("#main-gap").textContent = videos.length ? "此处无录像" : "本场次没有录像，证据为下方的事件记录";
  if (videos.length === 0) $("#main-gap").hidden = false;
  const chooseSeat = () => {
    const seat = seats.find((x) => x.key === $("#seat-select", HTMLSelectElement).value);
    for (const kind of /** @type {const} */ (["camera", "desktop"])) {
      const track = seat?.[kind];
      const cover = $(`#seat-${kind}-gap`);
      cover.textContent = track ? "此处无录像" : `该机位未录制${TRACK_KIND_LABELS[kind]}`;
      cover.hidden = Boolean(track);
      sync.set(`seat-${kind}`, track ? new TrackPlayer($(`#seat-${kind}`, HTMLVideoElement), track, app.t0, url, cover, showDamage) : null);
    }
  };
  $("#seat-select").onchange = chooseSeat;
  chooseSeat();
  $("#audio-select").onchange = () => {
    const track = tracks.get($("#audio-select", HTMLSelectElement).value);
    sync.set("audio", track ? new TrackPlayer($("#audio", HTMLAudioElement), track, app.t0, url, null, showDamage) : null);
  };
  renderTimeline(s);
  renderEvents(s);
  renderDocuments(s);
  await sync.seek(0);
  document.body.dataset.state = "ready";
}

/**
 * @param {ArchivedTrack[]} tracks
 * @returns {ArchivedSeat[]}
 */
function seatsOf(tracks) {
  /** @type {Map<string, ArchivedSeat>} */
  const seats = new Map();
  for (const t of tracks) {
    const match = /^(.+)-(\d+)-(camera|microphone|desktop)$/.exec(t.id);
    if (!match) continue;
    const key = `${match[1]}-${match[2]}`;
    if (!seats.has(key)) seats.set(key, { key, label: t.label.replace(/\s*(摄像头|麦克风|桌面|屏幕)$/, "") || key });
    /** @type {ArchivedSeat} */ (seats.get(key))[/** @type {"camera" | "microphone" | "desktop"} */ (match[3])] = t;
  }
  return [...seats.values()];
}

/** @param {ArchivedSession} s */
function renderFacts(s) {
  const opening = s.session.kind === "opening";
  const count = (/** @type {string} */ role) => Object.values(s.people).filter((p) => p.role === role).length;
  const facts = [
    [opening ? "开标场次" : "评标场次", s.session_id],
    [opening ? "开标室" : "评标室", Object.values(s.venues).join("、") || "—"],
    s.scope.whole ? (opening ? ["投标人", `${count("bidder")} 家`] : ["专家", `${count("expert")} 人`]) : null,
    ["开始", s.start ? dateTime(s.start) : "—"],
    ["时长", duration(app.duration)],
    ["分段", `${s.parts.length} 段${s.parts.every((p) => p.sealed) ? "，均已封存" : ""}`],
  ];
  if (!s.scope.whole) facts.push(["可调阅范围", s.scope.windows.map(([a, b]) => `${clockOf(a)}–${clockOf(b)}`).join("，")]);
  /** @type {Array<string | Node>[]} */
  const shown = facts.filter((f) => f !== null);
  if (s.copies) shown.push(["存档", copiesBadges(s.copies)]);
  $("#facts").replaceChildren(...shown.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
  $("#verify-badge").replaceWith(Object.assign(verificationBadge(s.verification), { id: "verify-badge" }));
  $("#verify-btn").hidden = !s.viewer.exports;
  $("#grant-btn").hidden = !s.viewer.grants;
  $("#export-btn").hidden = !s.viewer.exports;
}

/**
 * The documents of the project whose lot the session evaluated (tender documents, bids, award
 * notices…), each with its digests, for whoever reads whole archives.
 * @param {ArchivedSession} s
 */
function renderDocuments(s) {
  const documents = s.project_documents || [];
  $("#project-documents").hidden = documents.length === 0;
  $("#document-count").textContent = documents.length ? `${documents.length} 份` : "";
  $("#documents").replaceChildren(
    ...documents.map((d) =>
      el("tr", {},
        el("td", {}, DOCUMENT_KIND_LABELS[d.kind] || d.kind),
        el("td", {}, d.name),
        el("td", {}, formatNumericDateTime(new Date(d.added_at))),
        el("td", {}, sizeText(d.size)),
        el("td", { class: "digest" }, el("code", { title: d.sha256 }, d.sha256.slice(0, 16)), " ", el("code", { title: d.sm3 }, d.sm3.slice(0, 16))),
        el("td", {}, el("a", { href: d.url, download: "" }, "下载")),
      ),
    ),
  );
}

/** @param {ArchivedSession} s */
function renderTimeline(s) {
  const span = app.duration || 1;
  /** @param {number} t */
  const pct = (t) => `${Math.max(0, Math.min(100, (t / span) * 100))}%`;
  const lanes = s.tracks.filter((t) => t.kind === "video" || t.id === "room-mix").map((t) => {
    const lane = el("div", { class: "lane", title: t.label });
    lane.append(el("span", { class: "lane-label" }, t.id === "room-grid" ? "评标室画面" : t.id === "room-mix" ? "全场声音" : t.label));
    for (const seg of t.segments) {
      const from = seg.wall_start - app.t0;
      lane.append(el("span", {
        class: `seg${seg.repaired ? " repaired" : ""}`,
        title: seg.repaired ? "崩溃后修复的分段" : "",
        style: { left: pct(from), width: pct(seg.wall_end - seg.wall_start) },
        dataset: { path: seg.path },
      }));
    }
    for (const gap of s.gaps.filter((g) => g.track === t.id)) {
      lane.append(el("span", { class: "gap", title: `无录像：${reasonLabel(gap.reason)}`, style: { left: pct(gap.from - app.t0), width: pct(gap.to - gap.from) } }));
    }
    return lane;
  });
  $("#lanes").replaceChildren(...lanes);
  app.marks = /** @type {Mark[]} */ (s.events.map((e) => ({ e, t: eventTime(e) - app.t0, group: groupOf(e) })).filter((m) => m.group));
  $("#marks").replaceChildren(...app.marks.map((m) => {
    const mark = el("button", {
      class: "mark", type: "button", title: `${clockOf(eventTime(m.e))} ${describe(m.e, s.people)}`,
      style: { left: pct(m.t), background: m.group.color }, dataset: { seq: m.e.seq, group: m.group.id, t: m.t.toFixed(3) },
    });
    return mark;
  }));
  for (const d of s.damaged) showBanner(`档案有损坏之处：${d.what}；其余内容照常回放。`);
  // Only the groups this record has: an evaluation has no opening steps, an opening no votes.
  const present = new Set(app.marks.map((m) => m.group.id));
  $("#filters").replaceChildren(...GROUPS.filter((g) => present.has(g.id)).map((g) => {
    const box = el("input", { type: "checkbox", checked: !app.hidden.has(g.id), dataset: { group: g.id } });
    return el("label", { class: "filter" }, box, el("span", { class: "swatch", style: { background: g.color } }), g.label);
  }));
  applyFilters();
}

/** A segment the player could not fetch or decode: marked on its lane and said once. */
/**
 * @param {ArchivedTrack} track
 * @param {Segment} segment
 */
function showDamage(track, segment) {
  const node = document.querySelector(`#lanes .seg[data-path="${CSS.escape(segment.path)}"]`);
  if (node) node.classList.add("damaged");
  showBanner(`${track.label} 有一段录像无法播放（已在时间轴上标红），其余内容照常回放。`);
}

/** @param {ArchivedSession} s */
function renderEvents(s) {
  const items = app.marks.map((m) => {
    const d = m.e.data || {};
    const evidence = d.evidence?.path ? `part-${String(d.evidence.part || m.e.part).padStart(4, "0")}/${d.evidence.path}` : null;
    return el("li", { dataset: { group: m.group.id, t: m.t.toFixed(3), seq: m.e.seq } },
      el("span", { class: "swatch", style: { background: m.group.color } }),
      el("time", {}, clockOf(eventTime(m.e))),
      el("span", { class: "what" }, describe(m.e, s.people)),
      evidence && s.scope.whole ? el("img", { class: "thumb", src: fileUrl(s.session_id)(evidence), alt: "预警截图", loading: "lazy" }) : null);
  });
  $("#events").replaceChildren(...items);
  $("#event-count").textContent = `共 ${items.length} 条`;
  applyFilters();
}

function applyFilters() {
  for (const node of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("#marks .mark, #events li"))) {
    node.hidden = app.hidden.has(String(node.dataset.group));
  }
}

/** @param {number} t */
function tick(t) {
  const span = app.duration || 1;
  $("#playhead").style.left = `${(t / span) * 100}%`;
  $("#clock").textContent = clockOf(app.t0 + t);
  $("#clock-offset").textContent = ` 第 ${duration(t)}`;
  document.body.dataset.time = t.toFixed(3);
  $("#play").textContent = player().clock.running ? "暂停" : "播放";
}

// ---- verification and export --------------------------------------------------------------

async function verify() {
  $("#verify-btn", HTMLButtonElement).disabled = true;
  $("#verify-badge").textContent = "正在校验…";
  try {
    /** @type {Verification} */
    const v = await api("POST", `/api/archive/sessions/${openId()}/verify`);
    $("#verify-badge").replaceWith(Object.assign(verificationBadge(v), { id: "verify-badge" }));
    if (!v.ok) {
      showBanner(`校验发现差异：${v.differences.slice(0, 3).map((d) => `${d.where}：${d.what}`).join("；")}`);
      // The damaged segments are marked on their lanes; the rest plays as recorded.
      for (const d of v.differences) {
        const node = document.querySelector(`#lanes .seg[data-path="${CSS.escape(d.where)}"]`);
        if (node) node.classList.add("damaged");
      }
    }
  } catch (err) {
    showBanner(messageOf(err));
  } finally {
    $("#verify-btn", HTMLButtonElement).disabled = false;
  }
}

async function exportPackage() {
  const bar = $("#export-progress", HTMLProgressElement);
  $("#export-btn", HTMLButtonElement).disabled = true;
  $("#export-link").hidden = true;
  bar.hidden = false;
  try {
    let job = await api("POST", `/api/archive/sessions/${openId()}/export`);
    while (!job.finished) {
      bar.max = job.total || 1;
      bar.value = job.done;
      await new Promise((resolve) => setTimeout(resolve, 300)); // progress is polled
      job = await api("GET", `/api/archive/exports/${job.id}`);
    }
    if (job.error) throw new Error(job.error);
    bar.value = bar.max;
    const link = $("#export-link", HTMLAnchorElement);
    link.href = `/api/archive/exports/${job.id}/file`;
    link.textContent = `下载证据包（${megabytes(job.size)}）`;
    link.hidden = false;
  } catch (err) {
    showBanner(messageOf(err));
  } finally {
    $("#export-btn", HTMLButtonElement).disabled = false;
  }
}

/** An archivist opens the session's open part to a tenderer or bidder: a link to hand over. */
async function issuePartyLink() {
  const form = $("#grant-form", HTMLFormElement);
  $("#grant-error").textContent = "";
  if (!control(form, "name").value.trim()) { $("#grant-error").textContent = "请填写单位名称。"; return; }
  const response = await request(`/api/archive/sessions/${openId()}/party-links`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ role: control(form, "role").value, name: control(form, "name").value.trim(), ttl_days: Number(control(form, "days").value) }),
  });
  const answer = await answerOf(response);
  if (!response.ok) { $("#grant-error").textContent = problemText(answer, null, "生成失败"); return; }
  $("#grant-url", HTMLInputElement).value = answer.url;
  $("#grant-url").hidden = false;
}

// ---- wiring -------------------------------------------------------------------------------

function wire() {
  $("#search").addEventListener("submit", (e) => { e.preventDefault(); search(/** @type {HTMLFormElement} */ (e.target)); });
  $("#sessions").addEventListener("click", (e) => {
    const button = /** @type {HTMLElement | null} */ (/** @type {Element} */ (e.target).closest("[data-open]"));
    if (button) openSession(String(button.dataset.open));
  });
  $("#back").addEventListener("click", () => {
    if (app.player) app.player.pause();
    document.body.dataset.view = "list";
    $("#session-view").hidden = true;
    $("#list-view").hidden = false;
    $("#back").hidden = true;
    $("#title").textContent = "评标档案调阅";
    $("#subtitle").textContent = "按项目名称、编号、日期或评标室查找评标场次";
    // Checks made meanwhile (a verification from the page, the replica's copy) show at once.
    search($("#search", HTMLFormElement));
  });
  $("#play").addEventListener("click", () => {
    if (!app.player) return;
    if (player().clock.running) player().pause(); else player().play();
  });
  for (const button of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".speed"))) {
    button.addEventListener("click", () => {
      player().setSpeed(Number(button.dataset.speed));
      for (const b of document.querySelectorAll(".speed")) b.setAttribute("aria-pressed", String(b === button));
    });
  }
  /** @param {Event} e */
  const jump = (e) => {
    const target = /** @type {HTMLElement | null} */ (/** @type {Element} */ (e.target).closest("[data-t]"));
    if (target && app.player) app.player.seek(Number(target.dataset.t));
  };
  $("#marks").addEventListener("click", jump);
  $("#events").addEventListener("click", jump);
  $("#lanes").addEventListener("click", (e) => {
    const box = $("#lanes").getBoundingClientRect();
    if (app.player) app.player.seek(((e.clientX - box.left) / box.width) * app.duration);
  });
  $("#filters").addEventListener("change", (e) => {
    const box = /** @type {HTMLInputElement} */ (e.target);
    const group = String(box.dataset.group);
    if (box.checked) app.hidden.delete(group); else app.hidden.add(group);
    applyFilters();
  });
  $("#verify-btn").addEventListener("click", verify);
  $("#export-btn").addEventListener("click", exportPackage);
  $("#grant-btn").addEventListener("click", () => {
    $("#grant-url").hidden = true;
    $("#grant-scope").textContent = "对方只能看到评标室画面与声音中向招标人、投标人开放的阶段，看不到单个机位、监督记录和评委姓名。";
    $("#grant-dialog", HTMLDialogElement).showModal();
  });
  $("#grant-issue").addEventListener("click", issuePartyLink);
}

async function main() {
  wire();
  try {
    await login();
  } catch (err) {
    document.body.dataset.state = "error";
    return showBanner(messageOf(err));
  }
  const me = await request("/api/me").then((r) => r.json()).catch(() => ({}));
  $("#who").textContent = `${ROLE_LABELS[me.role] || me.role || ""} ${me.name || ""}`;
  const opened = queryParams().get("session");
  await search($("#search"));
  if (opened) await openSession(opened);
}

main();
