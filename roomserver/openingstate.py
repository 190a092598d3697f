"""What a bid opening (开标) is made of: its phases, its state, commands and what they do, and
the checks every rule of ``roomserver.opening`` shares (who may act, in which phase, when, with
which fields)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from roomserver.benchmark import Parameter, check_parameters
from roomserver.committee import Happened
from roomserver.errors import DeadlinePassed, IllegalCommand, InvalidRequest, RoleNotAllowed
from roomserver.model import Role
from roomserver.sealing import DEFAULT_FIELDS, FieldSpec, FieldValue, SealRecord

__all__ = [
    "DECISIONS",
    "PHASE_LABELS",
    "Bid",
    "Command",
    "Happened",
    "Objection",
    "OpeningIncident",
    "OpeningState",
    "Phase",
    "RecordSignature",
    "SignIn",
    "Submission",
]


class Phase(StrEnum):
    """Phases of a bid opening."""

    SCHEDULED = "scheduled"
    SUBMISSION = "submission"  # sign-in and submission, until the deadline
    PUBLISHED = "published"  # the deadline passed; the bidders who submitted are published
    DECRYPTION = "decryption"
    DECRYPTED = "decrypted"  # decryption closed; the benchmark draw, then the read-out
    READ_OUT = "read_out"  # rows published; confirmations, objections and answers
    SIGNING = "signing"  # the opening record sheet, signed by host and witness
    ENDED = "ended"


PHASE_LABELS: dict[Phase, str] = {
    Phase.SCHEDULED: "未开始",
    Phase.SUBMISSION: "签到与递交投标文件",
    Phase.PUBLISHED: "投标截止",
    Phase.DECRYPTION: "解密",
    Phase.DECRYPTED: "解密结束",
    Phase.READ_OUT: "唱标",
    Phase.SIGNING: "签署开标记录表",
    Phase.ENDED: "已结束",
}

DECISIONS = {"accepted": "认可，投标有效", "rejected": "不予认可，投标无效"}
INCIDENT_KINDS = {"platform": "平台故障", "other": "其他"}
ATTACHMENT_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})
DEFAULT_MIN_BIDS = 3
DEFAULT_DECRYPTION_MINUTES = 30
MAX_DECRYPTION_MINUTES = 240
MAX_TEXT = 500
MAX_NAME = 64
SERVER = "server"  # the actor of the server's own commands, which carry no role


@dataclass(frozen=True)
class SignIn:
    """A bidder's representative at sign-in: name, the ID number's last four characters, the
    SHA-256 of the face picture from their camera (archived as evidence), and when."""

    representative: str
    id_last4: str
    face_sha256: str
    at: datetime


@dataclass(frozen=True)
class Submission:
    """A sealed bid as submitted (the latest, if submitted again), and when."""

    record: SealRecord
    at: datetime


@dataclass(frozen=True)
class Bid:
    """One bidder's course through the opening."""

    sign_in: SignIn | None = None
    submission: Submission | None = None
    released_at: datetime | None = None  # when the bidder released the key
    fields: Mapping[str, FieldValue] | None = None  # the opening fields, once the bid counts
    file: Mapping[str, Any] | None = None  # name, type, size, sha256 of the decrypted file
    refused: str | None = None  # why the server could not open the seal
    failure: str | None = None  # the bidder's report that it could not decrypt, and why
    decision: str | None = None  # the host's handling of the report: DECISIONS
    handling: str | None = None
    confirmed: bool = False  # confirmed its row of the read-out

    @property
    def status(self) -> str:
        """Where the bid stands, as the hall shows every bidder's."""
        if self.decision is not None:
            return self.decision
        if self.failure is not None:
            return "failure_reported"
        if self.fields is not None:
            return "decrypted"
        if self.refused is not None:
            return "decryption_failed"
        if self.released_at is not None:
            return "key_released"
        if self.submission is not None:
            return "submitted"
        return "signed_in" if self.sign_in is not None else "absent"

    @property
    def counts(self) -> bool:
        """Whether the bid is valid so far: decrypted, or its failure accepted by the host."""
        return self.status in ("decrypted", "accepted")

    @property
    def waiting(self) -> str | None:
        """What the host must wait for before decryption can close, if anything."""
        if self.released_at is not None and self.fields is None and self.refused is None:
            return "密钥已提交，正在解密"
        if self.failure is not None and self.decision is None:
            return "解密失败报告尚未处理"
        return None


@dataclass(frozen=True)
class Objection:
    """A bidder's objection (异议) at the opening, and the tenderer's answer."""

    number: int
    bidder: str
    text: str
    attachment: Mapping[str, str] | None = None  # sha256 and type of a picture or PDF
    answer: str | None = None
    answered_by: str | None = None


@dataclass(frozen=True)
class OpeningIncident:
    """An abnormal event (异常情况): what, how it was handled and how it ended."""

    number: int
    kind: str
    description: str
    handling: tuple[str, ...] = ()
    result: str | None = None


@dataclass(frozen=True)
class RecordSignature:
    """A signature over the opening record sheet by its host or witness."""

    signer: str
    role: Role
    record_sha256: str
    signature: str
    public_key: str


@dataclass(frozen=True)
class OpeningState:
    """Where the opening of one lot stands. Bidders are ids (their tokens' actor), with names."""

    lot_id: str
    bidders: Mapping[str, str]  # bidder id → name, in the order of the read-out
    deadline: datetime  # 投标截止时间
    fields: tuple[FieldSpec, ...] = DEFAULT_FIELDS  # what each bid's envelope carries
    min_bids: int = DEFAULT_MIN_BIDS  # fewer valid bids: the opening fails (流标)
    decryption_minutes: int = DEFAULT_DECRYPTION_MINUTES  # the time limit unless the host says
    benchmark: tuple[Parameter, ...] = ()  # parameters the tender documents have drawn
    phase: Phase = Phase.SCHEDULED
    paused: bool = False
    pause_reason: str | None = None
    bids: Mapping[str, Bid] = field(default_factory=dict)
    submitted: tuple[str, ...] = ()  # published at the deadline
    decryption_until: datetime | None = None
    benchmark_commitment: str | None = None
    benchmark_seed: str | None = None
    benchmark_values: Mapping[str, str] | None = None
    valid: tuple[str, ...] = ()  # fixed when decryption closes
    invalid: Mapping[str, str] = field(default_factory=dict)  # bidder → why its bid is invalid
    objections: tuple[Objection, ...] = ()
    record_sha256: str | None = None
    record_sm3: str | None = None
    keys: Mapping[str, str] = field(default_factory=dict)  # host or witness → SPKI base64
    signatures: tuple[RecordSignature, ...] = ()
    muted: Mapping[str, str] = field(default_factory=dict)  # participant → reason
    incidents: tuple[OpeningIncident, ...] = ()
    public: bool = False  # whether the public may watch the broadcast (the host decides)
    failed: str | None = None  # why the opening failed (流标), if it did
    forced_end: str | None = None  # why an administrator ended it, if one did

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "benchmark", check_parameters(tuple(self.benchmark)))
        if not self.bidders:
            raise InvalidRequest("开标须有投标人名单")
        if self.deadline.tzinfo is None or self.deadline.utcoffset() is None:
            raise InvalidRequest("投标截止时间必须带时区")
        if isinstance(self.min_bids, bool) or not 1 <= self.min_bids:
            raise InvalidRequest("最少有效投标数应为正整数")
        if not 1 <= self.decryption_minutes <= MAX_DECRYPTION_MINUTES:
            raise InvalidRequest(f"解密时限应为 1 至 {MAX_DECRYPTION_MINUTES} 分钟")
        names = [f.name for f in self.fields]
        if not names or len(set(names)) != len(names):
            raise InvalidRequest("开标字段不能为空或重名")

    def bid(self, bidder: str) -> Bid:
        """The bidder's bid so far (an empty one before sign-in)."""
        return self.bids.get(bidder, Bid())

    def with_bid(self, bidder: str, bid: Bid) -> OpeningState:
        """The state with `bidder`'s bid replaced."""
        return replace(self, bids={**self.bids, bidder: bid})

    def signed_by(self, role: Role) -> frozenset[str]:
        """Who of `role` has signed the current record sheet."""
        return frozenset(
            s.signer
            for s in self.signatures
            if s.role == role and s.record_sha256 == self.record_sha256
        )


@dataclass(frozen=True)
class Command:
    """A request to move the opening on: `kind`, who asks (`actor`, `role`), when (`at`, the
    server's clock when it was received; on replay the logged time) and its fields. The
    server's own commands (``deadline_passed``, ``seal_opened``, ``close_decryption`` at the
    time limit) have the role None, which no token carries, and the actor ``SERVER``."""

    kind: str
    actor: str
    role: Role | None
    at: datetime
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidRequest("操作时间必须带时区")


Result = tuple[OpeningState, Happened]

HOST = frozenset({Role.HOST})
HOST_OR_WITNESS = frozenset({Role.HOST, Role.WITNESS})
ANSWERING = frozenset({Role.TENDERER, Role.AGENCY})


def require_role(command: Command, roles: frozenset[Role], message: str) -> None:
    """Refuse anybody whose role is not among `roles` (the server's commands included)."""
    if command.role not in roles:
        raise RoleNotAllowed(message)


def require_host_or_server(command: Command, message: str) -> None:
    """Refuse anybody but the host and the server itself."""
    if command.role is not None and command.role != Role.HOST:
        raise RoleNotAllowed(message)


def require_server(command: Command, what: str) -> None:
    """Refuse a command only the server issues, from anybody else."""
    if command.role is not None:
        raise RoleNotAllowed(f"{what}由系统记录，不能由参加人提交")


def require_phase(state: OpeningState, *phases: Phase) -> None:
    """Refuse a command outside the phases it belongs to."""
    if state.phase not in phases:
        wanted = "或".join(f"“{PHASE_LABELS[p]}”" for p in phases)
        raise IllegalCommand(f"当前阶段为“{PHASE_LABELS[state.phase]}”，该操作属于{wanted}阶段")


def require_before_deadline(state: OpeningState, command: Command, what: str) -> None:
    """Refuse anything at or after the deadline (投标截止时间)."""
    if command.at >= state.deadline:
        raise DeadlinePassed(f"投标截止时间已过，不能再{what}")


def own_bidder(state: OpeningState, command: Command, what: str) -> str:
    """The bidder acting for itself; RoleNotAllowed for anybody else, another bidder included."""
    if command.role != Role.BIDDER:
        raise RoleNotAllowed(f"{what}只能由投标人进行")
    bidder = command.fields.get("bidder")
    if bidder != command.actor:
        raise RoleNotAllowed(f"投标人只能为本单位{what}，不能代其他投标人操作")
    if bidder not in state.bidders:
        raise IllegalCommand("该投标人不在本标段的投标人名单中")
    return command.actor


def named_bidder(state: OpeningState, command: Command) -> str:
    """The bidder a command of the host or the server names, who must be on the list."""
    bidder = command.fields.get("bidder")
    if not isinstance(bidder, str) or bidder not in state.bidders:
        raise IllegalCommand("该投标人不在本标段的投标人名单中")
    return bidder


def text_field(command: Command, name: str, what: str, limit: int = MAX_TEXT) -> str:
    """A required text field, stripped and at most `limit` characters."""
    value = command.fields.get(name)
    if not isinstance(value, str) or not value.strip():
        raise IllegalCommand(f"请填写{what}")
    if len(value) > limit:
        raise IllegalCommand(f"{what}不能超过 {limit} 字")
    return value.strip()


def hex_field(command: Command, name: str, what: str) -> str:
    """A required SHA-256 (or SM3) digest: 64 lower-case hex digits."""
    value = command.fields.get(name)
    if (
        not isinstance(value, str)
        or len(value) != 64
        or any(c not in "0123456789abcdef" for c in value)
    ):
        raise IllegalCommand(f"{what}应为 64 位小写十六进制摘要")
    return value


def number_field(command: Command, name: str, what: str, low: int = 1, high: int = 10**9) -> int:
    """A required integer field between `low` and `high`."""
    value = command.fields.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise IllegalCommand(f"{what}应为 {low} 至 {high} 的整数")
    return value


def iso(at: datetime | None) -> str | None:
    """A time as the log keeps it."""
    return None if at is None else at.isoformat()
