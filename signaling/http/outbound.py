"""The server's own HTTP requests to other systems: webhook pushes (5.5), with aiohttp's client.

``signaling.services.webhooks`` decides what is sent, when and how often; this only POSTs a body
and says how it went: the answer's status, or why no answer came (a timeout, a connection that
failed). Redirects are not followed: a receiver answers where it was subscribed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Self

import aiohttp

USER_AGENT = "roomserver-webhooks/1"


class HttpSender:
    """POSTs bodies over one aiohttp client session, each answer awaited at most `timeout_s`."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._http: aiohttp.ClientSession | None = None
        self._closed = False

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int | None, str | None]:
        """POST `body` to `url`: the answer's status (None when none came) and, when it was not
        a 2xx, what went wrong."""
        if self._closed:
            raise RuntimeError("the sender is closed")
        if self._http is None:
            # Made at the first push, inside the running loop, as aiohttp asks.
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                headers={"User-Agent": USER_AGENT},
            )
        try:
            async with self._http.post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as response:
                status = response.status
        except TimeoutError:
            return None, f"no answer within {self._timeout_s:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return status, None if 200 <= status < 300 else f"HTTP {status}"

    async def close(self) -> None:
        """Close the client session; safe to call twice."""
        self._closed = True
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
