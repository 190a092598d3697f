"""The browser bundle the pages load from the package: Socket.IO's client, which ``make
install`` copies from npm's ``node_modules`` into ``web/vendor/`` (it is not committed)."""

from __future__ import annotations

from pathlib import Path

from roomserver.errors import RoomError

SOCKET_IO_BUNDLE = "socket.io.esm.min.js"


class VendorBundleMissing(RoomError):
    """The package lacks the Socket.IO client: its pages would load and never connect."""

    code = "vendor_bundle_missing"
    default_message = "缺少页面所需的 Socket.IO 客户端脚本"


def require_vendor_bundle(web_dir: Path) -> Path:
    """The folder that holds the Socket.IO client bundle (``web/vendor/``); refuses without it."""
    vendor = web_dir / "vendor"
    bundle = vendor / SOCKET_IO_BUNDLE
    if not bundle.is_file():
        raise VendorBundleMissing(
            f"缺少页面所需的 Socket.IO 客户端脚本 {bundle}，服务器不启动：没有它页面无法连接。"
            f"请在源码目录运行 make install（或 npm ci 后把 node_modules/socket.io-client/dist/"
            f"{SOCKET_IO_BUNDLE} 复制到 {vendor}/），再安装本软件包。"
        )
    return vendor
