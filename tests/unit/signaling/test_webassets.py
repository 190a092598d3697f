"""The Socket.IO client the pages load comes with the package; without it no server starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from signaling.http.api import WEB_DIR
from signaling.http.webassets import SOCKET_IO_BUNDLE, VendorBundleMissing, require_vendor_bundle


def test_a_package_without_the_bundle_is_refused_with_the_file_and_the_remedy(
    tmp_path: Path,
) -> None:
    (tmp_path / "vendor").mkdir()  # the folder alone is not enough
    with pytest.raises(VendorBundleMissing) as refused:
        require_vendor_bundle(tmp_path)
    message = refused.value.message
    assert str(tmp_path / "vendor" / SOCKET_IO_BUNDLE) in message
    assert "make install" in message and "npm ci" in message
    assert refused.value.code == "vendor_bundle_missing"


def test_the_folder_holding_the_bundle_is_served(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / SOCKET_IO_BUNDLE).write_text("export const io = () => {};\n", encoding="utf-8")
    assert require_vendor_bundle(tmp_path) == vendor


def test_this_package_has_the_bundle_make_install_copied() -> None:
    bundle = require_vendor_bundle(WEB_DIR) / SOCKET_IO_BUNDLE
    assert "Socket.IO" in bundle.read_text(encoding="utf-8")[:200]
