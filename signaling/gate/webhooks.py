"""Shapes of the REST bodies, queries and answers of webhook subscribers and their delivery log."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from roomserver.pushes import Topic
from roomserver.webhooks import MAX_URL
from signaling.gate.places import Title

# What a caller's secret may be: visible ASCII, long enough to be guessed by nobody.
Secret = Annotated[str, StringConstraints(min_length=16, max_length=200, pattern=r"^[!-~]+$")]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=MAX_URL)]


class WebhookRequest(BaseModel):
    """A subscriber: its name, where pushes go (http or https), which topics, and the secret
    they are signed with (generated when none is given)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: Title
    url: Url
    topics: list[Topic] = Field(min_length=1, max_length=len(Topic))
    secret: Secret | None = None


class DeliveryQuery(BaseModel):
    """A page of the delivery log: the entries after entry `after`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    after: int = Field(default=0, ge=0, le=2**62)
    limit: int = Field(default=100, ge=1, le=500)


class WebhookOut(BaseModel):
    """A subscriber as listed: never its secret."""

    id: str
    name: str
    url: str
    topics: list[Topic]
    enabled: bool
    cursor: int = Field(description="最后处理完的事件序号")
    failures: int = Field(description="下一条事件已失败的推送次数")
    created_by: str
    created_at: AwareDatetime
    disabled_by: str | None
    disabled_at: AwareDatetime | None
    previous_until: AwareDatetime | None = Field(
        default=None, description="轮换密钥后，原密钥继续签名至此时刻"
    )


class WebhookCreated(WebhookOut):
    """A new subscriber, with its secret: the one answer that shows it."""

    secret: str


class WebhookList(BaseModel):
    """Every subscriber, oldest first."""

    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    """One attempt to push one event."""

    id: int
    seq: int
    topic: str
    attempt: int
    status: int | None = Field(description="接收方的 HTTP 状态码；未收到应答时为空")
    error: str | None
    delivered: bool
    at: AwareDatetime


class DeliveryList(BaseModel):
    """A page of the delivery log, oldest first; `after` of the next page is the last `id`."""

    items: list[DeliveryOut]
