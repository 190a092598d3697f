"""The ``roomserver`` command: serve, demo, token, load-session."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from recorder.timestamp import Tsa
from roomserver.demo import DemoData, create_demo, create_load_session, find_demo
from roomserver.errors import RoomError
from roomserver.links import Link, party_link_expiry
from roomserver.model import Role, Venue
from roomserver.privatefiles import check_secrets, make_private_dir
from roomserver.store import SqlStore
from signaling.app import create_app
from signaling.cli import archive as archive_cli
from signaling.cli import doctor as doctor_cli
from signaling.cli import replicate as replicate_cli
from signaling.config import (
    AppConfig,
    ConfigError,
    add_config_arguments,
    build_config,
    resolve_settings,
)
from signaling.gate.tokens import TokenIssuer, load_or_create_key
from signaling.http.api import participant_url
from signaling.http.links import issue_link, participant_link, unrostered_link
from signaling.http.tls import ReloadingCertificate
from signaling.logs import setup_logging

logger = logging.getLogger("roomserver")

ROLE_NAMES = {
    Role.EXPERT: "评标专家",
    Role.HOST: "主持人",
    Role.STAFF: "工作人员",
    Role.WITNESS: "见证人",
    Role.SUPERVISOR: "监督人员",
    Role.ARCHIVIST: "档案管理员",
    Role.ADMIN: "管理员",
    Role.DOOR: "门禁系统",
    Role.AUDITOR: "审计人员",
    Role.TENDERER: "招标人",
    Role.BIDDER: "投标人",
    Role.AGENCY: "招标代理机构",
    Role.PUBLIC: "公众",
    Role.OPS: "运维技术人员",
}
# Demo links stay valid for a week, so a demo set up once can be shown for days.
DEMO_TOKEN_TTL_S = 7 * 24 * 3600
# A tenderer's or bidder's window after the session's end, unless --ttl says otherwise.
PARTY_LINK_TTL_S = 30 * 24 * 3600
# Seats, rooms and Socket.IO are closed in the app's on_shutdown before aiohttp waits for open
# handlers; what is left then are Engine.IO websocket handlers that do not return on their own.
SHUTDOWN_TIMEOUT_S = 1.0


async def participant_links(
    config: AppConfig,
    store: SqlStore,
    tokens: TokenIssuer,
    data: DemoData,
    *,
    kiosk: bool,
    ttl_s: int,
) -> list[dict[str, Any]]:
    """One entry per participant: role, name, venue, seat, a personal link (a fresh code) and a
    bearer token of that link for scripts that call the API as that person."""
    venues: dict[str, Venue] = {v.id: v for v in data.venues}
    out = []
    opening = data.opening.id if data.opening is not None else None
    for p in [*data.participants, *data.opening_people]:
        link = participant_link(p, by="cli", ttl_s=ttl_s)
        code = await issue_link(store, store.append_event, link)
        at_opening = p.session_id == opening
        url = participant_url(config.base_url, p.role, code, kiosk=kiosk, opening=at_opening)
        venue = venues.get(p.venue_id or "")
        out.append(
            {
                "role": str(p.role),
                "name": p.name,
                "venue": venue.name if venue else None,
                "venue_id": p.venue_id,
                "seat": p.seat_no,
                "participant_id": p.id,
                "session_id": p.session_id,
                "url": url,
                "link_id": link.id,
                "token": tokens.issue_link_session(link),
            }
        )
    if data.opening is not None:
        # The public's link to the opening's broadcast: anybody who has it may watch.
        expires_at = datetime.now(UTC) + timedelta(seconds=ttl_s)
        link = unrostered_link(
            Role.PUBLIC, "公众", by="cli", expires_at=expires_at, session_id=data.opening.id
        )
        code = await issue_link(store, store.append_event, link)
        out.append(
            {
                "role": str(Role.PUBLIC),
                "name": "公众",
                "venue": None,
                "venue_id": None,
                "seat": None,
                "participant_id": link.subject,
                "session_id": data.opening.id,
                "url": participant_url(config.base_url, Role.PUBLIC, code, opening=True),
                "link_id": link.id,
                "token": tokens.issue_link_session(link),
            }
        )
    return out


def print_links(links: list[dict[str, Any]], project: str) -> None:
    """The links for people, one per line, in Chinese."""
    print(f"\n项目：{project}")
    print("请在 Chromium 或 Chrome 中打开各自的链接：\n")
    first = links[0]["session_id"] if links else None
    for link in links:
        if link["session_id"] != first and first is not None:
            print("\n  开标（不见面开标大厅，公众可观看直播）：")
            first = None
        where = link["venue"] or ""
        if link["seat"]:
            where += f" {link['seat']}号机位"
        role = ROLE_NAMES.get(Role(link["role"]), link["role"])
        print(f"  {role:<6} {link['name']:<4} {where:<18} {link['url']}")
    print()


async def _open_store(config: AppConfig) -> tuple[SqlStore, TokenIssuer]:
    make_private_dir(config.data_dir)
    check_secrets(config.secrets_dir)
    tokens = TokenIssuer(
        load_or_create_key(config.secrets_dir / "token.key"), default_ttl_s=config.token_ttl_s
    )
    store = SqlStore(config.store)
    await store.start()
    return store, tokens


async def cmd_demo(config: AppConfig, args: argparse.Namespace) -> int:
    """Create (or find) the demo session and print its participants' links."""
    store, tokens = await _open_store(config)
    try:
        data = await find_demo(store) or await create_demo(store)
        links = await participant_links(
            config, store, tokens, data, kiosk=args.json, ttl_s=DEMO_TOKEN_TTL_S
        )
    finally:
        await store.close()
    if args.json:
        json.dump(links, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print_links(links, data.session.project_name)
    return 0


async def cmd_load_session(config: AppConfig, args: argparse.Namespace) -> int:
    """Create a session of N experts for load tests and print kiosk links as JSON."""
    store, tokens = await _open_store(config)
    try:
        data = await create_load_session(store, args.seats)
        links = await participant_links(
            config, store, tokens, data, kiosk=True, ttl_s=DEMO_TOKEN_TTL_S
        )
    finally:
        await store.close()
    json.dump(links, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


async def _print_link(
    config: AppConfig, store: SqlStore, link: Link, *, kiosk: bool = False
) -> None:
    code = await issue_link(store, store.append_event, link)
    print(participant_url(config.base_url, link.role, code, kiosk=kiosk))


async def _centre(store: SqlStore, centre_id: str | None) -> str | None:
    """The id of an existing centre (NotFound otherwise), or None for the province."""
    if centre_id is None:
        return None
    return (await store.places.centre(centre_id)).id


async def cmd_token(config: AppConfig, args: argparse.Namespace) -> int:
    """Print a personal link (a code) for a person, or a bearer token for an API client
    (an administrator's tools, a venue's access-control system)."""
    store, tokens = await _open_store(config)
    ttl = timedelta(seconds=args.ttl or config.token_ttl_s)
    now = datetime.now(UTC)
    try:
        # An API client's bearer token stands for a link too, so that `roomserver link revoke
        # admin:admin` (or door:VENUE) ends it before it expires.
        if args.admin:
            link = unrostered_link(Role.ADMIN, "admin", by="cli", expires_at=now + ttl)
            await issue_link(store, store.append_event, link)
            print(tokens.issue_link_session(link))
            return 0
        if args.door is not None:
            venue = await store.get_venue(args.door)  # NotFound for an unknown venue
            link = unrostered_link(
                Role.DOOR, venue.id, by="cli", expires_at=now + ttl, venue_id=venue.id
            )
            await issue_link(store, store.append_event, link)
            print(tokens.issue_link_session(link))
            return 0
        for role, name in (
            (Role.SUPERVISOR, args.supervisor),
            (Role.OPS, args.ops),
            (Role.AUDITOR, args.auditor),
        ):
            if name is not None:
                if not name.strip() or len(name) > 64:
                    print("错误：姓名应为 1 到 64 个字符", file=sys.stderr)
                    return 2
                if args.centre is not None and role == Role.AUDITOR:
                    print("错误：审计人员不限于一个交易中心", file=sys.stderr)
                    return 2
                centre = await _centre(store, args.centre)
                link = unrostered_link(
                    role, name.strip(), by="cli", expires_at=now + ttl, centre_id=centre
                )
                await _print_link(config, store, link)
                return 0
        if args.party is not None:
            role_name, _, name = args.party.partition(":")
            if role_name not in ("tenderer", "bidder") or not name or not args.session:
                print(
                    "错误：--party 应为 tenderer:名称 或 bidder:名称，并给出 --session",
                    file=sys.stderr,
                )
                return 2
            session = await store.get_session(args.session)
            window = timedelta(seconds=args.ttl or PARTY_LINK_TTL_S)
            expires_at = party_link_expiry(now, await store.ended_at(session.id), window)
            link = unrostered_link(
                Role(role_name), name, by="cli", expires_at=expires_at, session_id=session.id
            )
            await _print_link(config, store, link)
            return 0
        participant = await store.get_participant(args.participant)
        link = participant_link(participant, by="cli", ttl_s=int(ttl.total_seconds()))
        await _print_link(config, store, link)
    finally:
        await store.close()
    return 0


async def cmd_link_revoke(config: AppConfig, args: argparse.Namespace) -> int:
    """Revoke a person's links (a participant id, or ROLE:NAME) or one link by its id."""
    store, _ = await _open_store(config)
    try:
        revoked = await store.revoke_links(by="cli", reason=args.reason, subject=args.who)
        if not revoked:
            revoked = await store.revoke_links(by="cli", reason=args.reason, link_id=args.who)
        for link in revoked:
            await store.append_event(
                "link_revoked",
                {
                    "link": link.id,
                    "subject": link.subject,
                    "role": str(link.role),
                    "reason": args.reason,
                },
                session_id=link.session_id,
                actor="cli",
            )
            print(link.id)
    finally:
        await store.close()
    if not revoked:
        print("没有可收回的链接", file=sys.stderr)
        return 1
    # A running server checks every request against the table: the links stop working now;
    # an open connection ends at its next event.
    return 0


async def cmd_admin_create(config: AppConfig, args: argparse.Namespace) -> int:
    """Create an administrator: print, as the only line on stdout, their link to ``/admin``."""
    name = args.name.strip()
    if not name or len(name) > 64:
        print("错误：姓名应为 1 到 64 个字符", file=sys.stderr)
        return 2
    store, _ = await _open_store(config)
    try:
        centre = await _centre(store, args.centre)
        expires_at = datetime.now(UTC) + timedelta(days=args.days)
        link = unrostered_link(Role.ADMIN, name, by="cli", expires_at=expires_at, centre_id=centre)
        await _print_link(config, store, link)
    finally:
        await store.close()
    return 0


async def cmd_serve(config: AppConfig, args: argparse.Namespace) -> int:
    """Run the server until SIGTERM or SIGINT; with ``--demo``, an empty data directory gets the
    demo session first (a production start creates nothing)."""
    store, tokens = await _open_store(config)
    try:
        if args.demo and await store.is_empty():
            data = await create_demo(store)
            links = await participant_links(
                config, store, tokens, data, kiosk=False, ttl_s=DEMO_TOKEN_TTL_S
            )
            print_links(links, data.session.project_name)
            print("（再次查看链接：roomserver demo）\n", flush=True)
    finally:
        await store.close()

    try:
        Tsa.from_config(config.recorder)  # a certificate that cannot be read stops the start
    except (OSError, ValueError) as exc:
        print(f"错误：无法读取时间戳服务证书 tsa_certificate：{exc}", file=sys.stderr)
        return 2
    app = create_app(config)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    loop = asyncio.get_running_loop()
    certificate = None
    if config.tls_cert and config.tls_key:
        certificate = ReloadingCertificate(config.tls_cert, config.tls_key)
        certificate.reload_on_sighup(loop)  # a renewed certificate without a restart
    else:
        # `systemctl reload` sends SIGHUP; its default action would end the process and
        # interrupt every recording. Without the built-in TLS there is nothing to read again.
        loop.add_signal_handler(
            signal.SIGHUP, lambda: logger.info("SIGHUP: no built-in TLS, nothing to reload")
        )
    site = web.TCPSite(
        runner,
        config.host,
        config.port,
        ssl_context=certificate.context if certificate is not None else None,
    )
    await site.start()
    logger.info("serving on %s", config.base_url)
    print(f"服务已启动：{config.base_url}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("stopping")
    await runner.cleanup()
    logger.info("stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    common = argparse.ArgumentParser(add_help=False)
    add_config_arguments(common)
    parser = argparse.ArgumentParser(
        prog="roomserver", description="远程异地评标音视频服务器", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="in an empty data directory, create the demo session first and print its links",
    )
    demo = sub.add_parser("demo", parents=[common], help="create the demo session, print links")
    demo.add_argument("--json", action="store_true", help="print a JSON list of kiosk links")
    token = sub.add_parser("token", parents=[common], help="issue a join token")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--participant", help="participant id")
    who.add_argument("--admin", action="store_true", help="an administrator token")
    who.add_argument(
        "--supervisor", metavar="NAME", help="a supervisor of every session (or --centre's)"
    )
    who.add_argument(
        "--ops",
        metavar="NAME",
        help="an ops engineer (运维): devices and connections of every session (or --centre's)",
    )
    who.add_argument(
        "--door", metavar="VENUE_ID", help="a venue's access-control system (door entries)"
    )
    who.add_argument("--auditor", metavar="NAME", help="an auditor (审计, 纪委监委): every archive")
    who.add_argument(
        "--party",
        metavar="ROLE:NAME",
        help="a tenderer or bidder (tenderer:NAME or bidder:NAME) with --session: its archive",
    )
    token.add_argument("--session", metavar="ID", help="the session of a --party token")
    token.add_argument(
        "--centre", metavar="ID", help="limit a --supervisor or --ops link to one trading centre"
    )
    token.add_argument("--ttl", type=int, default=None, help="lifetime in seconds")
    link = sub.add_parser("link", parents=[common], help="personal links").add_subparsers(
        dest="link_command", required=True
    )
    revoke = link.add_parser("revoke", parents=[common], help="revoke a person's links")
    revoke.add_argument("who", help="participant id, ROLE:NAME, or a link id")
    revoke.add_argument("--reason", required=True, help="why (kept in the record)")
    admin = sub.add_parser("admin", parents=[common], help="administrators").add_subparsers(
        dest="admin_command", required=True
    )
    create = admin.add_parser(
        "create", parents=[common], help="create an administrator and print their /admin link"
    )
    create.add_argument("name", help="the administrator's name")
    create.add_argument(
        "--centre", metavar="ID", help="an administrator of this trading centre only"
    )
    create.add_argument("--days", type=int, default=30, help="how long the link is valid")
    load = sub.add_parser(
        "load-session",
        parents=[common],
        help="create a session of N experts for load tests (JSON links)",
    )
    load.add_argument("--seats", type=int, required=True)
    archive_cli.add_commands(sub, common)
    doctor_cli.add_command(sub, common)
    return parser


COMMANDS = {
    "serve": cmd_serve,
    "demo": cmd_demo,
    "token": cmd_token,
    "link revoke": cmd_link_revoke,
    "admin create": cmd_admin_create,
    "load-session": cmd_load_session,
    "archive list": archive_cli.cmd_archive_list,
    "archive replicate": replicate_cli.cmd_archive_replicate,
    "session end": archive_cli.cmd_session_end,
    "doctor": doctor_cli.cmd_doctor,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``roomserver`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = build_config(resolve_settings(args))
    except ConfigError as exc:
        parser.error(str(exc))
    setup_logging(config.log_level, config.log_format)
    command = " ".join(
        filter(
            None,
            [
                args.command,
                getattr(args, "archive_command", None),
                getattr(args, "session_command", None),
                getattr(args, "link_command", None),
                getattr(args, "admin_command", None),
            ],
        )
    )
    synchronous = {
        # Usable on a copied folder or package: no event loop, no database.
        "archive verify": archive_cli.cmd_archive_verify,
        "archive export": archive_cli.cmd_archive_export,
        "archive access-log": archive_cli.cmd_archive_access_log,
        "archive keys": archive_cli.cmd_archive_keys,
        "archive timestamp": archive_cli.cmd_archive_timestamp,
        "archive rotate-keys": archive_cli.cmd_archive_rotate_keys,
    }
    try:
        if command in synchronous:
            return synchronous[command](config, args)
        return asyncio.run(COMMANDS[command](config, args))
    except RoomError as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
