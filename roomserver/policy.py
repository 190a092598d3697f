"""Who may do what: the one policy table that every HTTP route and Socket.IO event asks.

``decide(grants, action, target)`` answers ``Allowed`` or a ``Refused`` that carries the domain
error to answer with. The table is data (``POLICY``): one ``Rule`` per ``Action``, naming the
roles that may act at all and how far a token of each reaches:

- ``Reach.ANYONE``: no token needed (pages, health; the page itself then asks for its data);
- ``Reach.ROLE``: the role alone decides (an administrator's maintenance, the archive list);
- ``Reach.SESSION``: a token of the target session. Roles in ``everywhere`` reach every session
  (administrators, archivists); roles in ``centre_wide`` reach every session with a token that
  names none (a centre-wide supervisor's wall);
- ``Reach.VENUE``: a token of the target venue (a venue's access-control system);
- ``Reach.LOCAL``: no token, but only from this machine (a Prometheus scraper).

A ``live`` rule is part of a running session: it is refused once the session has ended and to
a participant who no longer takes part (withdrew, was excused or replaced). Archive access is
not live: the roles that keep the archive keep it, and ``roomserver.access`` narrows what of an
archive a viewer sees. What a command may change is the workflow's own rule
(``roomserver.workflow``); this table decides who reaches the session at all.

Tenderers and bidders (招标人, 投标人) reach the open part of a session's archive only: never the
roster, the committee's workflow or the report while the evaluation runs (standard 4.3, 7.2).

Administrators, supervisors and ops engineers (运维技术人员) on no session's roster are of the
province, or of one trading centre (``Grants.centre_id``). A token of one centre reaches only
what belongs to that centre (``Target.centre_ids``, resolved by the caller from what the request
names: ``signaling.gate.centres``), and never a ``province`` row: the provincial interfaces'
subscriptions, the expert pool, adding centres, draining the machine's media workers. Nor does
a token of one session (an ops engineer on its roster, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from roomserver.errors import InvalidToken, NotYourRoom, RoleNotAllowed, RoomError, SessionEnded
from roomserver.model import Role


@dataclass(frozen=True)
class Grants:
    """What a token lets its bearer do: who they are, in which session, at which seat."""

    participant_id: str
    session_id: str | None
    role: Role
    venue_id: str | None
    seat_no: int | None
    expires_at: int
    token_id: str
    link_id: str | None = None  # a session opened with a personal link: checked per request
    centre_id: str | None = None  # the one trading centre this token is limited to

    @property
    def seat_key(self) -> str | None:
        """``venue:seat`` of an expert's seat."""
        if self.venue_id is None or self.seat_no is None:
            return None
        return f"{self.venue_id}:{self.seat_no}"


class Action(StrEnum):
    """Everything a request or an event can ask for."""

    PAGE = "page"
    HEALTH = "health"
    API_DOCS = "api_docs"  # the OpenAPI document of the REST interface
    METRICS = "metrics"
    WHOAMI = "whoami"
    LOGIN = "login"  # exchange a personal link's code for a session cookie
    LINK_MANAGE = "link_manage"  # revoke or re-issue a participant's link
    COMMITMENT_LETTER = "commitment_letter"
    ISSUE_TOKEN = "issue_token"
    WORKERS_READ = "workers_read"
    WORKERS_DRAIN = "workers_drain"
    CLUSTER_READ = "cluster_read"
    SESSION_HEALTH = "session_health"  # seats' devices and connections, for ops engineers
    PLACES_READ = "places_read"  # centres and venues
    CENTRES_MANAGE = "centres_manage"  # add a trading centre (the province's)
    CENTRE_PEOPLE = "centre_people"  # a centre's administrators, supervisors and ops engineers
    PLACES_MANAGE = "places_manage"
    BOOKINGS_READ = "bookings_read"  # bookings and vacancy (5.4.7)
    BOOKINGS_MANAGE = "bookings_manage"  # book, change, cancel
    PROJECTS_READ = "projects_read"  # projects, lots and their sessions
    PROJECTS_MANAGE = "projects_manage"  # projects, lots, a lot's session, its people
    PEOPLE_READ = "people_read"  # a session's people and the state of their links
    PROJECT_DOCUMENTS = "project_documents"  # read a project's documents (7.2.5-1)
    POOL_READ = "pool_read"  # the expert pool
    POOL_MANAGE = "pool_manage"  # its import from the expert management system
    DRAW = "draw"  # commit and reveal draws of sub venues and experts
    DRAW_READ = "draw_read"  # a draw's record and its check
    WEBHOOKS_READ = "webhooks_read"  # push subscribers and their delivery logs (5.5)
    WEBHOOKS_MANAGE = "webhooks_manage"  # subscribe, disable
    EXPERTS_IMPORT = "experts_import"
    EXPERT_REPLACE = "expert_replace"
    ROSTER_READ = "roster_read"
    WORKFLOW_READ = "workflow_read"
    WORKFLOW_COMMAND = "workflow_command"
    SESSION_END = "session_end"
    REPORT_UPLOAD = "report_upload"
    REPORT_READ = "report_read"
    IDENTITY_SNAPSHOT = "identity_snapshot"
    ACTIVITY_READ = "activity_read"
    EVIDENCE_READ = "evidence_read"
    DOOR_ACCESS = "door_access"
    ARCHIVE_LIST = "archive_list"
    ARCHIVE_READ = "archive_read"
    ARCHIVE_CHECK = "archive_check"  # verify and export: whole-archive viewers
    ARCHIVE_JOB = "archive_job"  # an export's progress and package, for whoever started it
    ARCHIVE_GRANT = "archive_grant"  # tenderers' and bidders' links: issue, list, revoke, reissue
    OPENING_READ = "opening_read"  # a bid opening, as the asker may see it
    OPENING_COMMAND = "opening_command"  # the hall's and the opening console's commands
    HALL_WATCH = "hall_watch"  # watch a hall's live broadcast (开标直播)
    HALL_SPEAK = "hall_speak"  # speak in a hall: a microphone (the host's camera too) in its mix
    BID_SUBMIT = "bid_submit"  # a bidder's own: sign-in, sealed bid, key, objection
    CLARIFY_ASK = "clarify_ask"  # the committee's written question to a bidder (3.2)
    CLARIFY_ANSWER = "clarify_answer"  # a bidder's questions and answers, after the opening too
    SEAT = "seat"  # an expert's seat: connect, media, leave, acknowledge a warning
    ICE_SERVERS = "ice_servers"  # a page's STUN and TURN servers, with TURN credentials of its own
    CONSOLE = "console"  # the venue console of host, staff and witness
    WALL = "wall"  # the supervision wall itself
    WALL_SESSION = "wall_session"  # watch, focus, note and warn in one session


class Reach(StrEnum):
    """How far a token of an allowed role reaches."""

    ANYONE = "anyone"
    ROLE = "role"
    SESSION = "session"
    VENUE = "venue"
    LOCAL = "local"


@dataclass(frozen=True)
class Rule:
    """One row of the table."""

    roles: frozenset[Role]
    reach: Reach
    live: bool = False
    everywhere: frozenset[Role] = frozenset()
    centre_wide: frozenset[Role] = frozenset()
    refusal: str = "您无权进行该操作"
    # The province's own business: refused to a token of one centre.
    province: bool = False
    # These roles act only from the session's main venue (a sub venue's host runs their room,
    # not the session's people).
    main_venue: frozenset[Role] = frozenset()


@dataclass(frozen=True)
class Target:
    """What a request is about, and the facts the live rules need (resolved by the caller)."""

    session_id: str | None = None
    venue_id: str | None = None
    ended: bool = False  # the session has ended
    left: bool = False  # the asker no longer takes part in it (withdrew, excused, replaced)
    local: bool = False  # the request comes from this machine (loopback)
    main_venue_id: str | None = None  # the session's main venue, where a rule asks for it
    # The trading centres the target belongs to (None: the request names nothing of a centre's;
    # an empty set: what it names belongs to none, or does not exist).
    centre_ids: frozenset[str] | None = None


@dataclass(frozen=True)
class Decision:
    """Allowed, or refused with the error to answer."""

    error: RoomError | None = None

    @property
    def allowed(self) -> bool:
        return self.error is None


ALLOWED = Decision()

ALL_ROLES = frozenset(Role)
ARCHIVE_KEEPERS = frozenset({Role.ARCHIVIST, Role.AUDITOR, Role.ADMIN})
PARTIES = frozenset({Role.TENDERER, Role.BIDDER})
# Who takes part in a bid opening: its host and witness, the tenderer, its agency, the bidders.
OPENING_PEOPLE = frozenset({Role.HOST, Role.WITNESS, Role.TENDERER, Role.AGENCY, Role.BIDDER})
# Who speaks in a hall (7.2.3-8): never the witness, a supervisor or the public, who watch.
HALL_SPEAKERS = frozenset({Role.HOST, Role.TENDERER, Role.AGENCY, Role.BIDDER})
CONSOLE_ROLES = frozenset({Role.HOST, Role.STAFF, Role.WITNESS})
ADMIN = frozenset({Role.ADMIN})
SUPERVISOR = frozenset({Role.SUPERVISOR})
OPS = frozenset({Role.OPS})
PROVINCE_ONLY = "该操作由省级管理员进行"
OTHER_CENTRE = "该资源不属于您所在的交易中心"
# Those who run or watch a session see its roster, workflow and report while it runs.
SESSION_READERS = CONSOLE_ROLES | {Role.EXPERT, Role.SUPERVISOR, Role.ADMIN}


def _session(
    roles: frozenset[Role],
    refusal: str,
    *,
    live: bool = True,
    everywhere: frozenset[Role] = ADMIN,
    centre_wide: frozenset[Role] = SUPERVISOR | OPS,
    main_venue: frozenset[Role] = frozenset(),
) -> Rule:
    return Rule(
        roles,
        Reach.SESSION,
        live=live,
        everywhere=everywhere & roles,
        centre_wide=centre_wide & roles,
        refusal=refusal,
        main_venue=main_venue & roles,
    )


POLICY: dict[Action, Rule] = {
    Action.PAGE: Rule(ALL_ROLES, Reach.ANYONE),
    Action.HEALTH: Rule(ALL_ROLES, Reach.ANYONE),
    Action.API_DOCS: Rule(ALL_ROLES, Reach.ANYONE),
    # A scraper on this machine, without a token; it shows no session or supervisor. A reverse
    # proxy in front must not pass /metrics on (its requests come from loopback).
    Action.METRICS: Rule(ALL_ROLES, Reach.LOCAL, refusal="运行指标只对本机的采集程序开放"),
    Action.WHOAMI: Rule(ALL_ROLES, Reach.ROLE),
    # The code is the credential: the handler checks it (``signaling.http.links``).
    Action.LOGIN: Rule(ALL_ROLES, Reach.ANYONE),
    # Hosts of the main venue only (as with the end instruction).
    Action.LINK_MANAGE: _session(
        frozenset({Role.HOST, Role.ADMIN}),
        "只有主场主持人或管理员可以收回或重新发放链接",
        main_venue=frozenset({Role.HOST}),
    ),
    Action.COMMITMENT_LETTER: Rule(
        frozenset({Role.EXPERT, *CONSOLE_ROLES, Role.ADMIN}),
        Reach.ROLE,
        refusal="只有评标专家需要签署承诺书",
    ),
    Action.ISSUE_TOKEN: Rule(ADMIN, Reach.ROLE, refusal="只有管理员可以签发链接"),
    Action.WORKERS_READ: Rule(
        ADMIN | OPS, Reach.ROLE, refusal="只有管理员和运维技术人员可以查看媒体进程"
    ),
    # The nodes of a cluster, where each room lives and which node leads.
    Action.CLUSTER_READ: Rule(
        ADMIN | OPS, Reach.ROLE, refusal="只有管理员和运维技术人员可以查看集群节点"
    ),
    # The machine's workers serve every centre's sessions.
    Action.WORKERS_DRAIN: Rule(
        ADMIN | OPS,
        Reach.ROLE,
        province=True,
        refusal="只有管理员和运维技术人员可以维护媒体进程",
    ),
    # Ops engineers see devices and connections, never what is said or shown (6.4, 7.2.6-6).
    Action.SESSION_HEALTH: _session(
        OPS | CONSOLE_ROLES | ADMIN, "只有运维技术人员和评标室人员可以查看设备与网络状态"
    ),
    Action.PLACES_READ: Rule(ADMIN, Reach.ROLE, refusal="只有管理员可以查看交易中心和评标室"),
    Action.CENTRES_MANAGE: Rule(
        ADMIN, Reach.ROLE, province=True, refusal="只有省级管理员可以添加交易中心"
    ),
    Action.CENTRE_PEOPLE: Rule(
        ADMIN, Reach.ROLE, refusal="只有管理员可以管理交易中心的管理、监督和运维人员"
    ),
    Action.PLACES_MANAGE: Rule(ADMIN, Reach.ROLE, refusal="只有管理员可以设置评标室"),
    Action.BOOKINGS_READ: Rule(ADMIN, Reach.ROLE, refusal="只有管理员可以查看场地预约"),
    Action.BOOKINGS_MANAGE: Rule(ADMIN, Reach.ROLE, refusal="只有管理员可以预约场地"),
    Action.PROJECTS_READ: Rule(ADMIN, Reach.ROLE, refusal="只有管理员可以查看项目"),
    Action.PROJECTS_MANAGE: Rule(ADMIN, Reach.ROLE, refusal="只有管理员可以录入项目和安排评标"),
    Action.PEOPLE_READ: Rule(ADMIN, Reach.ROLE, refusal="只有管理员可以查看评标场次的人员及其链接"),
    Action.PROJECT_DOCUMENTS: Rule(
        frozenset({Role.ADMIN, Role.ARCHIVIST, Role.AUDITOR}),
        Reach.ROLE,
        refusal="只有管理员和档案、审计人员可以查看项目资料",
    ),
    # The expert pool is the province's (its expert management system).
    Action.POOL_READ: Rule(ADMIN, Reach.ROLE, province=True, refusal="只有管理员可以查看专家库"),
    Action.POOL_MANAGE: Rule(
        ADMIN, Reach.ROLE, province=True, refusal="专家库由专家管理系统以管理员凭证导入"
    ),
    Action.DRAW: Rule(ADMIN, Reach.ROLE, refusal="只有管理员可以抽取"),
    # Centre-wide supervisors see every draw: when, how, from which pool (8.4-2).
    Action.DRAW_READ: _session(
        frozenset({Role.ADMIN, Role.SUPERVISOR}),
        "只有管理员和全中心监督人员可以查看抽取记录",
        live=False,
    ),
    # The provincial interfaces' subscribers receive every centre's pushes (5.5).
    Action.WEBHOOKS_READ: Rule(
        ADMIN, Reach.ROLE, province=True, refusal="只有管理员可以查看推送订阅"
    ),
    Action.WEBHOOKS_MANAGE: Rule(
        ADMIN, Reach.ROLE, province=True, refusal="只有管理员可以管理推送订阅"
    ),
    Action.EXPERTS_IMPORT: Rule(
        ADMIN, Reach.ROLE, refusal="专家名单由专家管理系统以管理员凭证导入"
    ),
    Action.EXPERT_REPLACE: _session(
        frozenset({Role.HOST, Role.STAFF}), "只有主持人或工作人员可以替换专家"
    ),
    Action.ROSTER_READ: _session(SESSION_READERS, "您无权查看本场评标的专家名单"),
    Action.WORKFLOW_READ: _session(SESSION_READERS, "您无权查看本场评标的评审进程"),
    # The workflow decides which command each role may give; witnesses and parties give none,
    # ops engineers only the technical ones of incidents.
    Action.WORKFLOW_COMMAND: _session(
        frozenset({Role.EXPERT, Role.HOST, Role.STAFF, Role.SUPERVISOR, Role.OPS, Role.ADMIN}),
        "您无权操作本场评标的评审进程",
    ),
    Action.SESSION_END: _session(
        frozenset({Role.HOST, Role.ADMIN}), "只有主场主持人可以发出评审结束指令"
    ),
    Action.REPORT_UPLOAD: _session(
        frozenset({Role.EXPERT, Role.HOST}), "只有组长或主持人可以提交评标报告"
    ),
    Action.REPORT_READ: _session(SESSION_READERS, "您无权查看本场评标的评标报告"),
    Action.IDENTITY_SNAPSHOT: _session(
        frozenset({Role.HOST, Role.STAFF}), "只有工作人员或主持人可以拍照核验"
    ),
    Action.ACTIVITY_READ: _session(
        CONSOLE_ROLES | {Role.SUPERVISOR, Role.ADMIN}, "您无权查看该场评标的活动记录"
    ),
    Action.EVIDENCE_READ: _session(
        CONSOLE_ROLES | {Role.SUPERVISOR} | ARCHIVE_KEEPERS,
        "您无权查看该场评标的证据",
        everywhere=ARCHIVE_KEEPERS,
    ),
    Action.DOOR_ACCESS: Rule(
        frozenset({Role.DOOR, Role.ADMIN}),
        Reach.VENUE,
        everywhere=ADMIN,
        refusal="只有该评标室的门禁系统可以上报门禁记录",
    ),
    Action.ARCHIVE_LIST: Rule(
        ARCHIVE_KEEPERS | SUPERVISOR | PARTIES, Reach.ROLE, refusal="您无权调阅评标档案"
    ),
    Action.ARCHIVE_READ: _session(
        ARCHIVE_KEEPERS | SUPERVISOR | PARTIES,
        "您无权调阅该场评标的档案",
        live=False,
        everywhere=ARCHIVE_KEEPERS,
    ),
    Action.ARCHIVE_CHECK: _session(
        ARCHIVE_KEEPERS | SUPERVISOR,
        "只有可调阅全部档案的人员可以校验或导出",
        live=False,
        everywhere=ARCHIVE_KEEPERS,
    ),
    Action.ARCHIVE_JOB: Rule(
        ARCHIVE_KEEPERS | SUPERVISOR, Reach.ROLE, refusal="只有可调阅全部档案的人员可以导出"
    ),
    Action.ARCHIVE_GRANT: Rule(
        frozenset({Role.ARCHIVIST, Role.ADMIN}),
        Reach.ROLE,
        refusal="只有档案管理员和管理员可以管理招标人、投标人的调阅链接",
    ),
    # A bid opening (7.2.3-4 to 9): its people see it as ``roomserver.openingview`` shows each
    # role, also once it has ended; what each may do is the opening's own rule.
    Action.OPENING_READ: _session(
        OPENING_PEOPLE | {Role.PUBLIC, Role.SUPERVISOR, Role.ADMIN},
        "您无权查看该场开标",
        live=False,
    ),
    Action.OPENING_COMMAND: _session(OPENING_PEOPLE | ADMIN, "您无权操作该场开标"),
    # The hall's live broadcast (4.4), one way, while the opening runs: its people, supervisors,
    # administrators and, where the opening allows it, the public (the hall checks its terms).
    Action.HALL_WATCH: _session(
        OPENING_PEOPLE | {Role.PUBLIC, Role.SUPERVISOR, Role.ADMIN}, "您无权观看该场开标直播"
    ),
    Action.HALL_SPEAK: _session(
        HALL_SPEAKERS,
        "只有主持人、投标人、招标人和招标代理机构可以在开标大厅发言，其他人只能观看直播",
    ),
    Action.BID_SUBMIT: _session(frozenset({Role.BIDDER}), "只有投标人可以签到、递交投标文件和解密"),
    # The committee asks through the main venue's host; experts stay unknown to bidders.
    Action.CLARIFY_ASK: _session(
        frozenset({Role.HOST}),
        "澄清问题由主场主持人代评标委员会发出",
        main_venue=frozenset({Role.HOST}),
    ),
    # A bidder answers during the evaluation, after its opening ended.
    Action.CLARIFY_ANSWER: _session(
        frozenset({Role.BIDDER}), "只有投标人可以查看和答复澄清问题", live=False
    ),
    Action.SEAT: _session(frozenset({Role.EXPERT}), "该链接不是评标专家的机位链接"),
    # Those whose pages open media connections (seats, the supervision wall), while it runs:
    # a TURN credential is a way through the centre's relay, for nobody else.
    Action.ICE_SERVERS: _session(
        frozenset({Role.EXPERT, Role.SUPERVISOR}), "只有评标专家和监督人员的页面需要媒体中继"
    ),
    Action.CONSOLE: _session(CONSOLE_ROLES, "只有主持人、工作人员和见证人可以打开评标室控制台"),
    Action.WALL: Rule(SUPERVISOR, Reach.ROLE, refusal="只有监督人员可以打开监督墙"),
    Action.WALL_SESSION: _session(SUPERVISOR, "您无权监督该场评标"),
}


def rule(action: Action) -> Rule:
    """The row of `action`."""
    return POLICY[action]


def reaches(grants: Grants, rule: Rule, target: Target) -> bool:
    """Whether a token of an allowed role reaches the target at all."""
    if rule.reach in (Reach.ANYONE, Reach.ROLE) or grants.role in rule.everywhere:
        return True
    if rule.reach == Reach.VENUE:
        return target.venue_id is not None and grants.venue_id == target.venue_id
    if grants.role in rule.centre_wide and grants.session_id is None:
        return True
    return target.session_id is not None and grants.session_id == target.session_id


def decide(grants: Grants | None, action: Action, target: Target = Target()) -> Decision:
    """Whether the bearer of `grants` (None: no token) may do `action` on `target`."""
    row = POLICY[action]
    if row.reach == Reach.ANYONE:
        return ALLOWED
    if row.reach == Reach.LOCAL:
        return ALLOWED if target.local else Decision(RoleNotAllowed(row.refusal))
    if grants is None:
        return Decision(InvalidToken("缺少登录凭证"))
    if grants.role not in row.roles:
        return Decision(RoleNotAllowed(row.refusal))
    if row.province and (grants.centre_id is not None or grants.session_id is not None):
        # Neither a centre's people nor a session's: the province's own.
        return Decision(RoleNotAllowed(PROVINCE_ONLY))
    if grants.centre_id is not None:
        if target.centre_ids is not None and grants.centre_id not in target.centre_ids:
            return Decision(NotYourRoom(OTHER_CENTRE))
    if not reaches(grants, row, target):
        return Decision(NotYourRoom(row.refusal if row.reach == Reach.VENUE else None))
    if grants.role in row.main_venue and grants.venue_id != target.main_venue_id:
        return Decision(RoleNotAllowed(row.refusal))
    # A token that reaches every session is not a participant's: nothing of theirs can end.
    participant = grants.role not in row.everywhere and grants.session_id is not None
    if row.live and participant:
        if target.ended:
            return Decision(SessionEnded("本场评标已结束"))
        if target.left:
            return Decision(NotYourRoom("您已不再参加本场评标"))
    return ALLOWED


def needs_facts(grants: Grants | None, action: Action) -> bool:
    """Whether `decide` needs the session's facts (`ended`, `left`, `main_venue_id`) for this
    asker."""
    row = POLICY[action]
    if grants is None:
        return False
    if grants.role in row.main_venue:
        return True
    return row.live and grants.session_id is not None and grants.role not in row.everywhere


def require(grants: Grants | None, action: Action, target: Target = Target()) -> Grants:
    """The grants when allowed; the refusal's error otherwise."""
    decision = decide(grants, action, target)
    if decision.error is not None:
        raise decision.error
    if grants is None:  # an open action asked without a token
        raise InvalidToken("缺少登录凭证")
    return grants
