"""Security headers on every response: the pages' Content-Security-Policy, no framing, no referrer,
and HSTS wherever the pages are reached over HTTPS.

The pages load their scripts and styles from /static/ only (no inline script or style), talk to
this server only (fetch and Socket.IO's websocket: CSP's 'self' covers ws: and wss: of the same
host and port), play the archive through MediaSource (a blob: URL), show the identity picture
from a blob: URL and the report being signed as a blob: PDF in a frame.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "frame-src blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# An SVG opened on its own is a document that could run script, like a page.
DOCUMENT_TYPES = frozenset({"text/html", "image/svg+xml"})
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Page links carry the join token: no other site may see the address.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


# A year, the subdomains left alone (a centre's other hosts are not ours to pin to HTTPS).
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def security_headers(
    *, https: bool
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """The hook that adds the headers just before a response's are sent (static files too).

    HSTS goes out over TLS (the built-in one), or on every response when the pages are
    reached at an https public URL (a reverse proxy terminates TLS in front of us); a browser
    ignores it over plain HTTP, and a plain-HTTP server must not pin its name to HTTPS.
    """

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(HEADERS)
        if https or request.secure:
            response.headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
        if response.content_type in DOCUMENT_TYPES:
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY

    return add


def add_security_headers(app: web.Application, *, https: bool) -> None:
    """Register the hook on the app (`https`: the pages are served over HTTPS)."""
    app.on_response_prepare.append(security_headers(https=https))
