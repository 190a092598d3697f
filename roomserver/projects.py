"""Projects (项目) and their lots (标段), which a centre evaluates one session per lot.

A project is entered by the centre or formed by the provincial scheduling system (5.5.5); each
lot gets its own evaluation session (7.1), and a multi-lot project's results go out only when
every lot has ended (5.5.7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from roomserver.errors import InvalidRequest


def _text(value: str, what: str, longest: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{what}不能为空")
    if len(value.strip()) > longest:
        raise InvalidRequest(f"{what}不能超过 {longest} 个字")
    return value.strip()


@dataclass(frozen=True)
class Project:
    """A project being traded at a centre."""

    id: str
    centre_id: str
    code: str
    name: str
    tenderer: str
    created_at: datetime
    created_by: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", _text(self.code, "项目编号", 100))
        object.__setattr__(self, "name", _text(self.name, "项目名称", 200))
        object.__setattr__(self, "tenderer", _text(self.tenderer, "招标人", 200))
        if self.created_at.tzinfo is None:
            raise InvalidRequest("创建时间必须带时区")
        object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))


@dataclass(frozen=True)
class Lot:
    """A lot (标段) of a project, and its evaluation session once there is one."""

    id: str
    project_id: str
    code: str
    name: str
    position: int
    session_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", _text(self.code, "标段编号", 100))
        object.__setattr__(self, "name", _text(self.name, "标段名称", 200))

    def session_title(self, project: Project) -> str:
        """The name its evaluation session carries: the project's and the lot's."""
        return f"{project.name} {self.name}"
