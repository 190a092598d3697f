"""The pages name every warning in Chinese, with the words the server uses for it."""

from __future__ import annotations

import re

from roomserver.warnings import WARNING_LABELS, WarningKind
from signaling.http.api import WEB_DIR


def test_labels_js_names_every_warning_kind_as_the_server_does() -> None:
    text = (WEB_DIR / "lib" / "labels.js").read_text(encoding="utf-8")
    block = text[text.index("export const WARNING_LABELS") :]
    block = block[: block.index("});")]
    found = dict(re.findall(r'(\w+): "([^"]+)"', block))
    assert found == {str(kind): WARNING_LABELS[kind] for kind in WarningKind}
