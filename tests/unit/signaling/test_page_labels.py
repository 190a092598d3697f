"""The pages name every warning and every role in Chinese, with the words the server uses."""

from __future__ import annotations

import re

from roomserver.copies import BEHIND, MISSING, STATES, UNCHECKED
from roomserver.model import Role
from roomserver.warnings import WARNING_LABELS, WarningKind
from signaling.cli.main import ROLE_NAMES
from signaling.http.api import WEB_DIR


def test_labels_js_names_every_warning_kind_as_the_server_does() -> None:
    text = (WEB_DIR / "lib" / "labels.js").read_text(encoding="utf-8")
    block = text[text.index("export const WARNING_LABELS") :]
    block = block[: block.index("});")]
    found = dict(re.findall(r'(\w+): "([^"]+)"', block))
    assert found == {str(kind): WARNING_LABELS[kind] for kind in WarningKind}


def test_labels_js_names_every_role_as_the_command_line_does() -> None:
    text = (WEB_DIR / "lib" / "labels.js").read_text(encoding="utf-8")
    block = text[text.index("export const ROLE_LABELS") :]
    block = block[: block.index("});")]
    found = dict(re.findall(r'(\w+): "([^"]+)"', block))
    assert found == {str(role): ROLE_NAMES[role] for role in Role}


def test_the_archive_page_names_every_state_of_a_copy_the_server_sends() -> None:
    text = (WEB_DIR / "lib" / "copies.js").read_text(encoding="utf-8")
    block = text[text.index("export const COPY_STATE_LABELS") :]
    block = block[: block.index("});")]
    found = dict(re.findall(r'(\w+): "([^"]+)"', block))
    assert set(found) == {*STATES, UNCHECKED, MISSING, BEHIND}
