// @ts-check
// Chinese names the pages show: media and venue kinds, roles, the workflow's steps, the record's
// events, warnings and reasons, and a few sentences made from them. Pure: no DOM.

/**
 * Chinese names of the media kinds a seat sends.
 * @type {Readonly<Record<string, string>>}
 */
export const KIND_LABELS = Object.freeze({
  camera: "摄像头",
  microphone: "麦克风",
  desktop: "屏幕",
});

/**
 * Chinese names of the venue kinds.
 * @type {Readonly<Record<string, string>>}
 */
export const VENUE_KIND_LABELS = Object.freeze({
  main: "主场",
  sub: "副场",
});

/**
 * The kinds of a project's documents (7.2.5-1).
 * @type {Readonly<Record<string, string>>}
 */
export const DOCUMENT_KIND_LABELS = Object.freeze({
  tender: "招标文件", bid: "投标文件", standard: "评标办法", clarification: "澄清答复",
  award: "中标通知书", contract: "合同", complaint: "投诉处理决定", other: "其他",
});

/**
 * The states of an evaluation session.
 * @type {Readonly<Record<string, string>>}
 */
export const SESSION_STATE_LABELS = Object.freeze({ scheduled: "待开始", live: "评标中", ended: "已结束" });

/**
 * The states of a person's latest personal link.
 * @type {Readonly<Record<string, string>>}
 */
export const LINK_STATE_LABELS = Object.freeze({ active: "有效", revoked: "已收回", expired: "已过期" });

/**
 * Who people are (the ``role`` of a token).
 * @type {Readonly<Record<string, string>>}
 */
export const ROLE_LABELS = Object.freeze({
  expert: "评标专家", host: "主持人", staff: "工作人员", witness: "见证人", supervisor: "监督人员",
  archivist: "档案管理员", auditor: "审计人员", admin: "管理员", tenderer: "招标人", bidder: "投标人",
  door: "门禁系统", ops: "运维技术人员", agency: "招标代理机构", public: "公众",
});

/**
 * The steps of the committee's workflow (the ``happened`` of a ``workflow`` event).
 * @type {Readonly<Record<string, string>>}
 */
export const WORKFLOW_LABELS = Object.freeze({
  check_in_opened: "开始签到", expert_checked_in: "身份核验通过", commitment_accepted: "签署承诺书",
  expert_withdrew: "申请回避", expert_replaced: "替换专家", signing_key_registered: "登记签名密钥",
  election_started: "开始推选组长", ballot_cast: "投票", election_tied: "票数相同，重新投票",
  leader_elected: "组长产生", motion_opened: "发起表决", motion_vote: "表决", motion_closed: "表决结束",
  signing_started: "评标报告提交签署", report_replaced: "评标报告更换", report_signed: "签署评标报告",
  end_instruction: "评审结束指令", evaluation_paused: "暂停评审", evaluation_resumed: "恢复评审",
  notice: "通知", incident_opened: "登记异常情况", incident_handled: "异常处理", incident_closed: "异常处理完毕",
  expert_excused: "请专家离席", motion_cancelled: "撤销表决", leader_drawn: "平票抽签产生组长",
  session_forced_end: "管理员强制结束评标",
});

/**
 * The tie rules the host chooses from before the ballot (``tie_rule`` of ``start_election``).
 * @param {Pick<import("./wire").Election, "tie_rule" | "max_rounds">} election
 */
export function tieRuleText(election) {
  if (election.tie_rule === "lot") return "票数相同时抽签决定";
  if (election.max_rounds > 5) return "票数相同时重新投票";  // elections logged before the rule
  return `票数相同时重新投票，第 ${election.max_rounds} 轮仍相同则抽签决定`;
}

/**
 * A closed motion in words: votes per option and abstentions, or why it was withdrawn.
 * @param {Pick<import("./wire").Motion, "title" | "cancelled" | "result" | "abstained">} m
 */
export function motionResult(m) {
  if (m.cancelled) return `${m.title}：已撤销（${m.cancelled}）`;
  const counts = Object.entries(m.result).map(([o, n]) => `${o} ${n}`);
  if (m.abstained) counts.push(`弃权 ${m.abstained}`);
  return `${m.title}：${counts.join("，")}`;
}

/**
 * Every other kind of event of the record.
 * @type {Readonly<Record<string, string>>}
 */
export const EVENT_LABELS = Object.freeze({
  seat_connected: "机位连接", seat_joined: "进入评标室", seat_left: "离开评标室", seat_disconnected: "机位断开",
  seat_replaced: "机位在其他设备登录", media_negotiated: "音视频接通", media_restarted: "媒体服务恢复", media_moved: "媒体迁移",
  recording_started: "开始录制", recording_sealed: "录制封存", recording_gap: "录制中断", recording_interrupted: "录制中断",
  identity_snapshot: "拍照核验", warning_started: "预警", warning_ended: "预警解除", room_camera: "全景摄像机", relay_recording_joined: "副场本地录像并入档案",
  supervision_started: "监督查看", supervision_ended: "监督结束", supervision_note: "监督记录",
  supervision_warning: "监督提醒", warning_acknowledged: "专家已知悉提醒", session_ended: "评标结束",
  request_refused: "操作被拒绝", console_opened: "打开控制台", console_closed: "关闭控制台",
  event_refused: "数据无法归档，已拒绝", report_read: "查阅评标报告",
  wall_opened: "打开监督墙", wall_closed: "关闭监督墙", connect_refused: "连接被拒绝", token_issued: "发放登录链接",
  door_access: "门禁记录", experts_imported: "导入专家名单",
  link_issued: "发放个人链接", link_used: "打开个人链接", link_revoked: "收回个人链接",
  session_opened: "开设评标场次", person_added: "安排人员", re_review_opened: "组织复议",
  draw_committed: "抽取：公布承诺", draw_revealed: "抽取：揭示结果", expert_fee_recorded: "记录专家劳务费",
  booking_made: "预约场地", booking_changed: "变更场地预约", booking_cancelled: "取消场地预约",
});

/**
 * What a warning is about (the ``kind`` of ``warning_started`` and ``warning_ended``).
 * @type {Readonly<Record<string, string>>}
 */
export const WARNING_LABELS = Object.freeze({
  seat_empty: "擅离职守：机位无人", extra_face: "机位出现多人", camera_dark: "摄像头画面过暗或被遮挡",
  camera_frozen: "摄像头画面静止不动", camera_lost: "摄像头信号中断", microphone_lost: "麦克风信号中断",
  desktop_stopped: "桌面共享已停止", desktop_missing: "桌面未共享：机位连接后一直没有共享桌面",
  seat_disconnected: "机位断线", late: "迟到：开始后仍未到场",
  room_camera_down: "监控摄像头离线", room_camera_person: "监控画面中出现专家和工作人员以外的人员",
});

/**
 * Why something ended or stopped (the ``reason`` the server writes into an event).
 * @type {Readonly<Record<string, string>>}
 */
export const REASON_LABELS = Object.freeze({
  // a warning ended
  cleared: "情况已消除", media_restart: "媒体服务重启", room_closed: "评标室关闭", session_ended: "评标结束",
  // a supervisor's view ended
  wall_closed: "监督墙已关闭", closed: "已关闭", replaced: "切换到其他画面",
  // a recording stopped or lost frames
  server_stopped: "服务器停止运行", media_worker_lost: "媒体进程中断", queue_full: "写入繁忙，部分画面未保存",
  write_error: "写入失败", no_keyframe: "等待关键帧", no_media: "未收到音视频（网络中断或设备停止）",
  // a connection ended (Socket.IO's words)
  "client disconnect": "客户端主动断开", "server disconnect": "服务器断开连接", "transport close": "网络连接关闭",
  "transport error": "网络连接出错", "ping timeout": "网络超时",
});

/**
 * A reason in Chinese: a code the server wrote is translated, words a person typed are kept.
 * @param {string} reason
 */
export function reasonLabel(reason) {
  return Object.hasOwn(REASON_LABELS, reason) ? REASON_LABELS[reason] : reason;
}
