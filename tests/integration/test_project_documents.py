"""A project's documents in its record (7.2.5-1): written once with SHA-256 and SM3, cited by an
event, and every reading logged (test_projects.py sees them listed with a session's archive)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from recorder.accesslog import ACCESS_LOG
from recorder.hashing import sm3_hex
from signaling.config import AppConfig
from signaling.gate.tokens import TokenIssuer
from tests.integration.platform_support import Admin, iso

PDF = b"%PDF-1.4\n% tender documents of LN-2026-0500\n1 0 obj <<>> endobj\n%%EOF\n"


async def _project_with_session(admin: Admin) -> tuple[dict[str, Any], str]:
    centre, venue = await admin.venue("沈阳", "第一评标室", 5)
    project = await admin.project(centre["id"], "LN-2026-0500", "某桥梁工程", [("01", "施工")])
    lot = project["lots"][0]
    start = datetime.now(UTC) + timedelta(hours=1)
    await admin.book_for_lot(venue["id"], lot["id"], start, start + timedelta(hours=3))
    opened = await admin.call(
        "POST",
        f"/api/lots/{lot['id']}/session",
        201,
        json={"main_venue_id": venue["id"], "scheduled_start": iso(start)},
    )
    return project, str(opened["session"]["id"])


async def test_documents_are_kept_once_listed_with_the_archive_and_their_reading_logged(
    empty_server: tuple[TestServer, AppConfig, TokenIssuer],
) -> None:
    server, config, tokens = empty_server
    base_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, base_url, tokens.issue_admin())
        project, _ = await _project_with_session(admin)
        documents = f"{base_url}/api/projects/{project['id']}/documents"
        headers = {**admin.headers, "Content-Type": "application/pdf"}
        added = []
        for kind, name in (("tender", "招标文件"), ("tender", "招标文件（重复上传）")):
            async with http.post(
                documents, params={"kind": kind, "name": name}, data=PDF, headers=headers
            ) as r:
                assert r.status == 201, await r.text()
                added.append(await r.json())
        assert added[0]["sha256"] == hashlib.sha256(PDF).hexdigest() == added[1]["sha256"]
        assert added[0]["sm3"] == sm3_hex(PDF)
        assert added[0]["path"] == added[1]["path"], "the same bytes are the same file"
        async with http.post(
            documents,
            params={"kind": "award", "name": "中标通知书"},
            data=b"text",
            headers={**admin.headers, "Content-Type": "text/plain"},
        ) as r:
            assert r.status == 400 and "文件类型" in (await r.json())["detail"]
        listed = await admin.call("GET", f"/api/projects/{project['id']}/documents", 200)
        assert [d["name"] for d in listed["items"]] == ["招标文件", "招标文件（重复上传）"]
        auditor = {"Authorization": f"Bearer {tokens.issue_auditor('纪委监委')}"}
        async with http.get(base_url + added[0]["url"], headers=auditor) as r:
            assert r.status == 200 and await r.read() == PDF
            assert "attachment" in r.headers["Content-Disposition"]
    stored = config.projects_dir / project["id"] / added[0]["path"]
    assert stored.read_bytes() == PDF
    log = (config.data_dir / ACCESS_LOG).read_text(encoding="utf-8")
    assert "project_document_read" in log and added[0]["sha256"] in log
