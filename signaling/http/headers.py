"""Security headers on every response: the pages' Content-Security-Policy, no framing, no referrer.

The pages load their scripts and styles from /static/ only (no inline script or style), talk to
this server only (fetch and Socket.IO's websocket: CSP's 'self' covers ws: and wss: of the same
host and port), play the archive through MediaSource (a blob: URL), show the identity picture
from a blob: URL and the report being signed as a blob: PDF in a frame.
"""

from __future__ import annotations

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


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Add the headers just before a response's headers are sent (static files included)."""
    response.headers.update(HEADERS)
    if response.content_type in DOCUMENT_TYPES:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY


def add_security_headers(app: web.Application) -> None:
    """Register the hook on the app."""
    app.on_response_prepare.append(security_headers)
