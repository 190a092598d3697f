"""What a media worker is told at start: its settings, as JSON on its command line.

The signaling process builds them from its configuration; this module is all of the worker that the
signaling process imports (configuration only, no media).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from media.config import MediaConfig
from recorder.config import RecorderConfig
from roomserver.warnings import WarningThresholds
from signaling.config import IceConfig


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs to know, passed as JSON on its command line."""

    archive_root: str
    archive_keys_dir: str  # the private signing keys, by generation
    archive_keys_path: str  # their public list (archive-keys.json)
    # Where a sub venue's node records its cameras while no link carries them (its own disk).
    relay_root: str = ""
    media: MediaConfig = field(default_factory=MediaConfig)
    recorder: RecorderConfig = field(default_factory=RecorderConfig)
    # Host addresses, announced addresses and ports only (``IceConfig.for_workers``).
    ice: IceConfig = field(default_factory=IceConfig)
    warnings: WarningThresholds = field(default_factory=WarningThresholds)
    # One worker per CPU, each kept on its own: Python threads of one process spread over
    # several cores contend for the interpreter lock across cores, which costs CPU and delays
    # the grid.
    pin_cpus: bool = True
    log_level: str = "INFO"
    log_format: str = "text"

    def to_json(self) -> str:
        """The settings as one JSON string."""
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> WorkerSettings:
        """Settings back from JSON."""
        data = json.loads(text)
        ice = data.get("ice", {})
        return cls(
            archive_root=data["archive_root"],
            archive_keys_dir=data["archive_keys_dir"],
            archive_keys_path=data["archive_keys_path"],
            relay_root=data.get("relay_root", ""),
            media=MediaConfig(**data.get("media", {})),
            recorder=RecorderConfig(**data.get("recorder", {})),
            ice=IceConfig(
                host_addresses=tuple(ice.get("host_addresses", ())),
                announced_addresses=tuple(ice.get("announced_addresses", ())),
                port_range=_pair(ice.get("port_range")),
            ),
            warnings=WarningThresholds(**data.get("warnings", {})),
            pin_cpus=bool(data.get("pin_cpus", True)),
            log_level=data.get("log_level", "INFO"),
            log_format=data.get("log_format", "text"),
        )


def _pair(value: list[int] | None) -> tuple[int, int] | None:
    return (int(value[0]), int(value[1])) if value else None
