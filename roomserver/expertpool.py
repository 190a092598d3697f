"""The expert pool (专家库): experts as the expert management system knows them, from which a
lot's committee is drawn (7.1.3). The server keeps what a draw looks at: specialties, city and
employer (to exclude bidders' employers), and the last four characters of the ID number."""

from __future__ import annotations

from dataclasses import dataclass

from roomserver.draws import Candidate
from roomserver.errors import InvalidRequest


@dataclass(frozen=True)
class PoolExpert:
    """One expert of the pool."""

    id: str
    external_id: str
    name: str
    specialties: tuple[str, ...]
    city: str
    employer: str
    id_last4: str | None = None
    active: bool = True

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.city.strip():
            raise InvalidRequest("专家姓名和所在城市不能为空")
        if not self.specialties:
            raise InvalidRequest(f"专家 {self.name} 没有专业")
        object.__setattr__(self, "specialties", tuple(dict.fromkeys(self.specialties)))

    def candidate(self) -> Candidate:
        """The expert as a draw sees them (by pool id)."""
        return Candidate(
            self.id,
            {"specialty": self.specialties, "city": (self.city,), "employer": (self.employer,)},
        )
