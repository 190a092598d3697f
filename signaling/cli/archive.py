"""``roomserver archive …`` and ``roomserver session end``: commands that work on the data dir."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

from recorder.accesslog import ACCESS_LOG, AccessLog, check_access_log
from recorder.archive import is_sealed, list_parts, session_retention
from recorder.eventlog import read_events
from recorder.export import export_archive, unpack
from recorder.keys import OpenSslMissing, key_records
from recorder.manifest import Manifest
from recorder.progress import ProgressBar
from recorder.seal import stamp_part
from recorder.sealcheck import NAMES
from recorder.timestamp import TimestampError, Tsa, load_certificates
from recorder.verify import check_against_record, verify_archive
from roomserver.errors import NotFound, RoomError
from roomserver.store import SqlStore
from signaling.cli import replicate as replicate_cli
from signaling.config import AppConfig
from signaling.gate.tokens import TokenIssuer, load_or_create_key
from signaling.services.archiving import (
    ArchiveManager,
    package_extras,
    read_record,
    trusted_tsa,
)
from signaling.services.ballots import BallotKeys
from signaling.services.events import EventLog
from signaling.services.outcomes import Outcomes
from signaling.services.sessions import WorkflowEnd
from signaling.services.signals import Signals
from signaling.services.workflow import WorkflowService
from signaling.tasks import TaskSet

EXIT_OK, EXIT_DIFFERS, EXIT_USAGE = 0, 1, 2


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``archive verify``, ``archive list`` and ``session end``."""
    archive = sub.add_parser("archive", parents=[common], help="recorded session archives")
    archive_sub = archive.add_subparsers(dest="archive_command", required=True)
    verify = archive_sub.add_parser(
        "verify", parents=[common], help="check a session archive (exit 0 intact, 1 differs)"
    )
    verify.add_argument("target", metavar="SESSION_OR_PATH")
    verify.add_argument(
        "--public-key",
        action="append",
        default=[],
        metavar="FILE",
        help="trusted archive keys: an archive-keys.json list, or an Ed25519 or SM2 public key "
        "in PEM (repeatable; default: the data directory's archive-keys.json, if present)",
    )
    verify.add_argument(
        "--tsa-cert",
        action="append",
        default=[],
        metavar="PEM",
        help="the certificate time-stamps must be signed with (repeatable; default: the "
        "configured tsa_certificate, if any)",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    export = archive_sub.add_parser(
        "export", parents=[common], help="write a session's evidence package (a .tar)"
    )
    export.add_argument("session_id", metavar="SESSION")
    export.add_argument("out", metavar="OUT", help="the package to write, e.g. session.tar")
    access = archive_sub.add_parser(
        "access-log", parents=[common], help="check the hash chain of the archive access log"
    )
    access.add_argument("--json", action="store_true", help="print the records as JSON")
    listing = archive_sub.add_parser("list", parents=[common], help="list session archives")
    listing.add_argument("--json", action="store_true", help="print JSON")
    stamp = archive_sub.add_parser(
        "timestamp",
        parents=[common],
        help="ask the configured TSA for the time-stamps that sealed parts do not have yet",
    )
    stamp.add_argument(
        "sessions", nargs="*", metavar="SESSION", help="these sessions only (default: all)"
    )
    replicate_cli.add_command(archive_sub, common)
    keys = archive_sub.add_parser(
        "keys",
        parents=[common],
        help="list the keys that sign archive seals (Ed25519 and SM2), with their validity",
    )
    keys.add_argument("--json", action="store_true", help="print archive-keys.json")
    archive_sub.add_parser(
        "rotate-keys",
        parents=[common],
        help="a new generation of signing keys for the seals from now on (old ones stay listed)",
    )
    session = sub.add_parser("session", parents=[common], help="evaluation sessions")
    session_sub = session.add_subparsers(dest="session_command", required=True)
    end = session_sub.add_parser(
        "end",
        parents=[common],
        help="an administrator's forced end of a session (the host's end instruction is given "
        "in the console): logged with its reason, the archive sealed",
    )
    end.add_argument("session_id", metavar="ID")
    end.add_argument("--reason", required=True, help="why, for the session's record")


def cmd_archive_verify(config: AppConfig, args: argparse.Namespace) -> int:
    """Verify one archive folder, or an exported package; print each difference."""
    target = Path(args.target)
    if target.is_file() and tarfile.is_tarfile(target):
        with tempfile.TemporaryDirectory(prefix="roomserver-verify-") as tmp:
            try:
                folder = unpack(target, Path(tmp))
            except (ValueError, tarfile.TarError) as exc:
                print(f"错误：无法解开证据包：{exc}", file=sys.stderr)
                return EXIT_USAGE
            return _verify_folder(config, args, folder)
    folder = target if target.is_dir() else config.archive_dir / args.target
    return _verify_folder(config, args, folder)


def _verify_folder(config: AppConfig, args: argparse.Namespace, folder: Path) -> int:
    if not folder.is_dir():
        print(
            f"错误：找不到归档 {args.target}（既不是文件夹，也不是本机的评标场次）", file=sys.stderr
        )
        return EXIT_USAGE
    keys: list[bytes] = []
    try:
        keys = [Path(p).read_bytes() for p in args.public_key]
        for data in keys:
            key_records(data)
    except (OSError, ValueError) as exc:
        print(f"错误：无法读取公钥：{exc}", file=sys.stderr)
        return EXIT_USAGE
    if not keys and config.archive_keys_path.is_file():
        keys = [config.archive_keys_path.read_bytes()]
    try:
        tsa_certs = [Path(p).read_bytes() for p in args.tsa_cert] or trusted_tsa(config.recorder)
        for data in tsa_certs:
            load_certificates(data)
    except (OSError, ValueError) as exc:
        print(f"错误：无法读取时间戳服务证书：{exc}", file=sys.stderr)
        return EXIT_USAGE
    bar: ProgressBar | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = ProgressBar(total, "校验")
        bar.update(done)

    try:
        report = verify_archive(folder, trusted_keys=keys, trusted_tsa=tsa_certs, progress=progress)
    except OpenSslMissing as exc:
        print(f"错误：无法核验 SM2 签名：{exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if bar is not None:
            bar.close()
    if report.session_id is not None:
        # On the server's machine, the event table says which parts there were: a folder alone
        # cannot show that its last part was taken away.
        record = asyncio.run(read_record(config.store.database_url, report.session_id))
        if record is not None:
            check_against_record(report, folder, *record)
    if args.json:
        json.dump(
            {
                "archive": str(folder),
                "ok": report.ok,
                "parts": report.parts,
                "segments": report.segments,
                "events": report.events,
                "bytes": report.bytes,
                "key_fingerprints": report.key_fingerprints,
                "key_trusted": report.key_trusted,
                "signers": [asdict(s) for s in report.signers],
                "timestamps": [asdict(t) for t in report.timestamps],
                "retention_until": report.retention_until,
                "differences": [{"where": d.where, "what": d.what} for d in report.differences],
                "notes": report.notes,
            },
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        print()
    else:
        for diff in report.differences:
            print(f"DIFFERS  {diff.where}: {diff.what}")
        for note in report.notes:
            print(f"NOTE     {note}")
        for signer in report.signers:
            print(f"SIGNED   {signer.part}: {signer.describe()}")
        for stamp in report.timestamps:
            print(f"STAMPED  {stamp.part}: {stamp.describe()}")
        trust = {
            True: "every seal signed by trusted keys",
            False: "NOT signed by the trusted keys",
            None: "keys not pinned",
        }[report.key_trusted]
        kept = f"; kept until {report.retention_until}" if report.retention_until else ""
        print(
            f"{'INTACT' if report.ok else 'DAMAGED'}  {folder}: {report.parts} parts, "
            f"{report.segments} segments, {report.events} events, {report.bytes} bytes; "
            f"{trust}{kept}"
        )
    return EXIT_OK if report.ok else EXIT_DIFFERS


def cmd_archive_export(config: AppConfig, args: argparse.Namespace) -> int:
    """Write a session's evidence package, with a progress bar; the access is logged."""
    folder = config.archive_dir / args.session_id
    if not list_parts(folder):
        print(f"错误：本机没有评标场次 {args.session_id} 的归档", file=sys.stderr)
        return EXIT_USAGE
    if not all(is_sealed(p) for _, p in list_parts(folder)):
        print("注意：该场评标的归档尚未全部封存，导出的是当前内容。", file=sys.stderr)
    try:
        extras = package_extras(config.archive_keys_path, config.recorder)
    except OSError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_USAGE
    bar: ProgressBar | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = ProgressBar(total, "导出")
        bar.update(done)

    out = Path(args.out)
    try:
        size = export_archive(
            folder,
            out,
            extras=extras,
            progress=progress,
        )
    except OSError as exc:
        print(f"错误：导出失败：{exc}", file=sys.stderr)
        return EXIT_DIFFERS
    finally:
        if bar is not None:
            bar.close()
    log = AccessLog(config.data_dir / ACCESS_LOG)
    try:
        log.record("archive_exported", "cli", session=args.session_id, out=str(out), bytes=size)
    finally:
        log.close()
    print(f"{out}  {size} 字节；在任一台电脑上用 `roomserver archive verify {out}` 校验")
    return EXIT_OK


def cmd_archive_timestamp(config: AppConfig, args: argparse.Namespace) -> int:
    """Add the TSA's token to every sealed part without one: exit 0 when none is missing then."""
    try:
        tsa = Tsa.from_config(config.recorder)
    except (OSError, ValueError) as exc:
        print(f"错误：无法读取时间戳服务证书：{exc}", file=sys.stderr)
        return EXIT_USAGE
    if tsa is None:
        print("错误：未配置时间戳服务（tsa_url 与 tsa_certificate）", file=sys.stderr)
        return EXIT_USAGE
    root = config.archive_dir
    names = args.sessions or (sorted(p.name for p in root.iterdir()) if root.is_dir() else [])
    failed = 0
    for name in names:
        for _number, part in list_parts(root / name):
            if not is_sealed(part):
                continue
            try:
                info = stamp_part(part, tsa)
            except (TimestampError, OSError) as exc:
                print(f"FAILED   {name}/{part.name}: {exc}")
                failed += 1
                continue
            if info is not None:
                print(f"STAMPED  {name}/{part.name}: {info.gen_time.isoformat()}")
    return EXIT_DIFFERS if failed else EXIT_OK


def cmd_archive_keys(config: AppConfig, args: argparse.Namespace) -> int:
    """List the signing keys of every generation with their validity."""
    listing = config.archive_keys_path
    if not listing.is_file():
        print("（尚无签名密钥：服务首次启动时生成）")
        return EXIT_OK
    if args.json:
        sys.stdout.write(listing.read_text(encoding="utf-8"))
        return EXIT_OK
    try:
        records = key_records(listing.read_bytes())
    except ValueError as exc:
        print(f"错误：{listing}：{exc}", file=sys.stderr)
        return EXIT_DIFFERS
    current = max((r.generation or 0) for r in records) if records else None
    for record in records:
        mark = "当前" if record.generation == current else "已停用"
        print(
            f"第 {record.generation} 代  {NAMES[record.algorithm]:<8} {record.fingerprint}  "
            f"{record.valid_from} 至 {record.valid_until or '今'}  {mark}"
        )
    return EXIT_OK


def cmd_archive_rotate_keys(config: AppConfig, args: argparse.Namespace) -> int:
    """A new generation of signing keys; the running server takes it from its next seal."""
    from signaling.app import load_archive_keys

    try:
        first = not config.archive_keys_path.is_file()
        keyring = load_archive_keys(config)  # generation 1 when there was none
        keys = keyring.current() if first else keyring.rotate()
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"错误：无法生成新密钥：{exc}", file=sys.stderr)
        return EXIT_DIFFERS
    print(
        f"第 {keys.generation} 代签名密钥已启用（此后的封存使用它；旧密钥保留并列出有效期）：\n"
        f"  Ed25519 {keys.ed25519.fingerprint()}\n  SM2     {keys.sm2.fingerprint()}\n"
        f"请把 {config.archive_keys_path} 交给审计方。"
    )
    return EXIT_OK


def cmd_archive_access_log(config: AppConfig, args: argparse.Namespace) -> int:
    """Check the access log's hash chain: exit 0 intact, 1 broken."""
    path = config.data_dir / ACCESS_LOG
    if not path.is_file():
        print("（尚无调阅记录）")
        return EXIT_OK
    try:
        count, problems = check_access_log(path)
    except ValueError as exc:
        count, problems = 0, [str(exc)]
    if args.json:
        json.dump(read_events(path) if not problems else [], sys.stdout, ensure_ascii=False)
        print()
    for problem in problems:
        print(f"DIFFERS  {problem}")
    print(f"{'INTACT' if not problems else 'DAMAGED'}  {path}: {count} records")
    return EXIT_OK if not problems else EXIT_DIFFERS


def archive_summary(session_dir: Path) -> dict[str, Any]:
    """State, size, duration and seal status of one session archive."""
    parts = list_parts(session_dir)
    size = sum(f.stat().st_size for f in session_dir.rglob("*") if f.is_file())
    state = "recording"
    spans: list[tuple[float, float]] = []
    for _number, part in parts:
        manifest_path = part / "manifest.json"
        if is_sealed(part) and manifest_path.is_file():
            manifest = Manifest.from_json(manifest_path.read_bytes())
            state = manifest.state
            spans += [(s.wall_start, s.wall_end) for s in manifest.segments]
        else:
            state = "unsealed"
    duration = (max(e for _, e in spans) - min(s for s, _ in spans)) if spans else 0.0
    return {
        "session_id": session_dir.name,
        "parts": len(parts),
        "state": state,
        "sealed": bool(parts) and all(is_sealed(p) for _, p in parts),
        "bytes": size,
        "duration_s": round(duration, 1),
        "started_at": min((s for s, _ in spans), default=None),
        "retention_until": session_retention(session_dir),
    }


async def cmd_archive_list(config: AppConfig, args: argparse.Namespace) -> int:
    """List every session archive in the data directory."""
    root = config.archive_dir
    sessions = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    rows = [await asyncio.to_thread(archive_summary, p) for p in sessions]
    if config.store.database_url and rows:
        async with SqlStore(config.store) as store:
            for row in rows:
                try:
                    session = await store.get_session(row["session_id"])
                except NotFound:
                    continue
                row["project_code"] = session.project_code
                row["project_name"] = session.project_name
    if args.json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return EXIT_OK
    if not rows:
        print("（没有归档）")
    for row in rows:
        seal = "已封存" if row["sealed"] else "未封存"
        kept = f"保存至 {row['retention_until']}" if row["retention_until"] else "保存期自结束起算"
        print(
            f"{row['session_id']}  {row.get('project_code', '-'):<14} {row['state']:<12} {seal}  "
            f"{row['parts']} 段  {row['duration_s']:>8.1f} 秒  {row['bytes'] / 1e6:>9.1f} MB  "
            f"{kept}  {row.get('project_name', '')}"
        )
    return EXIT_OK


async def cmd_session_end(config: AppConfig, args: argparse.Namespace) -> int:
    """An administrator's forced end (``force_end``, with its reason): by the running server,
    or, when none runs, in the data directory through the same workflow command."""
    key = load_or_create_key(config.secrets_dir / "token.key")
    issuer = TokenIssuer(key, default_ttl_s=300)
    token = issuer.issue_admin("cli")
    url = f"{config.base_url}/api/sessions/{args.session_id}/end"
    request = urllib.request.Request(
        url,
        data=json.dumps({"reason": args.reason}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=30).read())
        print(json.loads(body)["state"])
        return EXIT_OK
    except urllib.error.HTTPError as exc:
        problem = json.loads(exc.read() or b"{}")
        print(f"错误：{problem.get('detail', exc.reason)}", file=sys.stderr)
        return EXIT_DIFFERS
    except urllib.error.URLError:
        pass  # no server running: end it here
    from signaling.app import load_archive_keys

    async with SqlStore(config.store) as store:
        signals = Signals()
        events = EventLog(store, signals)
        tasks = TaskSet()
        archives = ArchiveManager(
            config.archive_dir,
            await asyncio.to_thread(load_archive_keys, config),
            config.recorder,
            events,
            tasks,
            signals,
        )
        workflow = WorkflowService(
            store,
            events,
            archive_dir=config.archive_dir,
            ballots=BallotKeys.in_secrets(config.secrets_dir),
            signals=signals,
        )
        Outcomes(
            store=store,
            events=events,
            workflow_state=workflow.state,
            rule=config.fees,
            signals=signals,
        )
        WorkflowEnd(store=store, events=events, archives=archives, signals=signals)
        signals.freeze()
        await archives.recover()
        grants = issuer.verify(token)
        try:
            await workflow.command(args.session_id, grants, "force_end", {"reason": args.reason})
        except RoomError as err:
            print(f"错误：{err.message}", file=sys.stderr)
            return EXIT_DIFFERS
        finally:
            await tasks.close()
        session = await store.get_session(args.session_id)
    print(session.state)
    return EXIT_OK
