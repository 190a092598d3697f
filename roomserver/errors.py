"""Domain errors: one root with a stable machine code, one subclass per broken rule."""

from __future__ import annotations


class RoomError(Exception):
    """Root of every domain error; `code` is stable, `message` is shown to users."""

    code: str = "room_error"
    default_message: str = "操作失败"

    def __init__(self, message: str | None = None) -> None:
        self.message: str = message or self.default_message
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidToken(RoomError):
    """The presented token is malformed or its signature does not verify."""

    code = "invalid_token"
    default_message = "登录凭证无效"


class TokenExpired(RoomError):
    """The token was valid once but its lifetime is over."""

    code = "token_expired"
    default_message = "登录凭证已过期，请向工作人员索取新的链接"


class NotYourRoom(RoomError):
    """The token or venue does not belong to this evaluation session."""

    code = "not_your_room"
    default_message = "该凭证不属于本场评标"


class SeatNotInSession(RoomError):
    """The participant has no expert seat assigned in this session."""

    code = "seat_not_in_session"
    default_message = "该机位未被安排参加本场评标"


class SeatOutOfRange(RoomError):
    """The seat number is outside 1..seat_count of the venue."""

    code = "seat_out_of_range"
    default_message = "机位号超出该评标室的机位数"


class RoleNotAllowed(RoomError):
    """The caller's role may not perform this action."""

    code = "role_not_allowed"
    default_message = "当前身份无权执行此操作"


class NotFound(RoomError):
    """The requested record does not exist."""

    code = "not_found"
    default_message = "未找到该记录"


class InvalidRequest(RoomError):
    """The request is malformed or violates a data constraint."""

    code = "invalid_request"
    default_message = "请求格式不正确"


class InvalidVenue(RoomError):
    """A venue's configuration breaks the standard (e.g. 5 to 10 seats, Table 1)."""

    code = "invalid_venue"
    default_message = "评标室配置不正确"


class UnsafePermissions(RoomError):
    """A key or its folder can be read by other users of the machine: the server will not start."""

    code = "unsafe_permissions"
    default_message = "密钥文件的权限不安全"


class SessionEnded(RoomError):
    """The evaluation session has already ended."""

    code = "session_ended"
    default_message = "本场评标已结束"


class PayloadTooLarge(RoomError):
    """The request's body is larger than the route takes; it was not read."""

    code = "payload_too_large"
    default_message = "请求体过大"


class Internal(RoomError):
    """Anything unexpected; details go to the log, never to the user."""

    code = "internal"
    default_message = "服务器内部错误"


class IllegalCommand(RoomError):
    """A workflow command that does not fit the session's phase, or was already done."""

    code = "illegal_command"
    default_message = "当前评标阶段不能执行该操作"


class BadSignature(RoomError):
    """A signature or signing key that does not verify; the message says why."""

    code = "bad_signature"
    default_message = "电子签名验证失败"


class DrawShortfall(InvalidRequest):
    """Not enough candidates meet the conditions of a draw: nothing is drawn."""

    code = "draw_shortfall"
    default_message = "符合条件的候选不足，未抽取"


class NotDrawnHere(InvalidRequest):
    """An expert is to be re-drawn who was not drawn by this system (or the session was not
    opened from a lot): there is no draw to repeat; the expert management system names one."""

    code = "not_drawn_here"
    default_message = "该专家不是由本系统抽取的，无法按原条件补抽"


class BookingConflict(RoomError):
    """Another active booking holds one of the seats for an overlapping time."""

    code = "booking_conflict"
    default_message = "所选机位在该时段已被预约"


class DeadlinePassed(IllegalCommand):
    """A bid, sign-in or key release that came after its deadline or time limit."""

    code = "deadline_passed"
    default_message = "已超过截止时间"


class SealRefused(RoomError):
    """A sealed bid (密封投标文件) that cannot be accepted or opened; a subclass names why."""

    code = "seal_refused"
    default_message = "投标文件解密失败"


class KeyMismatch(SealRefused):
    """The released key is not the one whose digest was committed at submission."""

    code = "key_mismatch"
    default_message = "解密密钥与递交投标文件时登记的密钥摘要不符"


class SealTampered(SealRefused):
    """The ciphertext fails its integrity check: changed or damaged since it was sealed."""

    code = "seal_tampered"
    default_message = "投标文件密文未通过完整性校验，已被改动或损坏"


class DigestMismatch(SealRefused):
    """The decrypted bid is not the one whose digest was committed at submission."""

    code = "digest_mismatch"
    default_message = "解密所得的投标文件与递交时承诺的摘要不符"


class BadEnvelope(SealRefused):
    """The decrypted bid is not a well-formed bid envelope for this lot and bidder."""

    code = "bad_envelope"
    default_message = "投标文件的封装格式不正确"


class SealTooLarge(SealRefused):
    """A sealed bid, its header or its file is larger than the limits allow."""

    code = "seal_too_large"
    default_message = "投标文件超过大小限制"


class InvalidAmount(InvalidRequest):
    """A sum of money (a bid price) that is not a plain non-negative yuan figure to the fen."""

    code = "invalid_amount"
    default_message = "金额格式不正确"


class DuplicateName(RoomError):
    """Another centre has this name, or another venue of the same centre: a name must say
    which place it is."""

    code = "duplicate_name"
    default_message = "名称已被使用"


class Unavailable(RoomError):
    """Nobody can take the request just now (a cluster replacing a lost node, say): the page
    tries again by itself."""

    code = "unavailable"
    default_message = "服务正在恢复，请稍候，页面将自动重试"
