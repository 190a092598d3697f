"""``roomserver archive replicate``: copy to the replica every sealed part it lacks, now.

The server copies each part as it is sealed, and its re-verification copies whatever is still
missing, at their pace. This command is for the archives recorded before the replica was set
up, or after it was away for long: it copies every missing part at once (at ``replica_rate``,
0 for no limit), verifies each session's replica, records the check where the archive page and
/metrics read it, and prints what it did. It may run beside the server: a part is whole in the
replica or absent, and of two copies of the same part the first to finish is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recorder.progress import ProgressBar
from recorder.replica import ReplicaUnavailable, check_location, finished_parts, missing_parts
from roomserver.copies import COPY_FAILED, VERIFIED
from roomserver.store import SqlStore
from signaling.config import AppConfig
from signaling.metrics import Metrics
from signaling.services.signals import Signals

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MB = 1_000_000


def add_command(archive_sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``archive replicate``."""
    replicate = archive_sub.add_parser(
        "replicate",
        parents=[common],
        help="copy to the replica (archive_replica) every sealed part it lacks, and verify it",
    )
    replicate.add_argument(
        "sessions", nargs="*", metavar="SESSION", help="these sessions only (default: all)"
    )


async def cmd_archive_replicate(config: AppConfig, args: argparse.Namespace) -> int:
    """Copy the missing parts session by session, with progress; exit 1 if any copy failed."""
    from signaling.app import archive_copies

    replica = config.copies.replica
    if replica is None:
        print("错误：未配置存档副本位置（archive_replica）", file=sys.stderr)
        return EXIT_USAGE
    try:
        await asyncio.to_thread(check_location, replica)
    except ReplicaUnavailable as exc:
        print(f"错误：存档副本位置不可用：{exc}", file=sys.stderr)
        return EXIT_USAGE
    root = config.archive_dir
    names = args.sessions or (sorted(p.name for p in root.iterdir()) if root.is_dir() else [])
    todo = [(name, await asyncio.to_thread(missing_parts, root / name, replica)) for name in names]
    todo = [(name, parts) for name, parts in todo if parts]
    if not todo:
        print(f"副本已完整：{replica} 中已有全部已封存的分段")
        return EXIT_OK
    sizes = [await asyncio.to_thread(_size, root / name, parts) for name, parts in todo]
    total = sum(sizes)
    print(f"待复制：{len(todo)} 场，{total / MB:,.1f} MB，复制到 {replica}")
    failed = 0
    async with SqlStore(config.store) as store:
        signals = Signals()
        copies = archive_copies(config, store, Metrics(media=False), signals)
        signals.freeze()
        await copies.refresh()
        for number, ((name, parts), size) in enumerate(zip(todo, sizes, strict=True), start=1):
            print(f"[{number}/{len(todo)}] {name}：{', '.join(parts)}（{size / MB:,.1f} MB）")
            # Every byte is read twice: copied, then verified in the replica.
            with ProgressBar(2 * size, "复制并校验") as bar:
                copy = await copies.replicate(name, progress=_advancing(bar))
            if copy is None:
                print("STOPPED", file=sys.stderr)
                return EXIT_FAILED
            if copy.state == VERIFIED:
                print(f"COPIED   {name}: {copy.parts} 段，副本校验通过")
            else:
                failed += 1
                what = "复制失败" if copy.state == COPY_FAILED else "副本校验失败"
                print(f"FAILED   {name}: {what}：{copy.detail}")
        await copies.close()
    print(f"完成：{len(todo) - failed} 场已复制并校验，{failed} 场失败")
    return EXIT_FAILED if failed else EXIT_OK


def _advancing(bar: ProgressBar) -> Callable[[int], None]:
    """A step counter that moves `bar`."""
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        bar.update(done)

    return advance


def _size(session_dir: Path, parts: list[str]) -> int:
    """Bytes of the named parts of a session."""
    wanted = set(parts)
    return sum(
        f.stat().st_size
        for _n, part in finished_parts(session_dir)
        if part.name in wanted
        for f in part.rglob("*")
        if f.is_file()
    )
