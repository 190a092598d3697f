"""Calls and notices between the nodes of a cluster, through Redis.

A call (``call``) asks one node for an answer: the request is published on that node's channel,
the node runs the handler it serves the method with (``serve``) and pushes the answer on a list
the caller waits on; an error the handler raised comes back with its code and message. A notice
(``notify``) tells every other node something, answered by nobody. ``Cluster`` listens on the
channels (``channels``) and hands each message here (``received``).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from roomserver.errors import RoomError
from signaling.tasks import TaskSet

logger = logging.getLogger(__name__)

NOTICE_CHANNEL = "roomserver:notice"
RPC_CHANNEL = "roomserver:rpc:{node}"
REPLY_KEY = "roomserver:reply:{id}"
RPC_TIMEOUT_S = 10.0

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class RemoteError(RoomError):
    """The error another node answered a call with, with its code and message (an ack or a
    problem made of it says what the other node said)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message or None)
        self.code = code


class NodeCalls:
    """This node's calls to the others and its answers to theirs."""

    def __init__(self, node_id: str, tasks: TaskSet) -> None:
        self.node_id = node_id
        self.redis: Any = None  # the cluster's client, once connected
        self._tasks = tasks
        self._served: dict[str, Handler] = {}
        self._on_notice: dict[str, list[Callable[[dict[str, Any]], Awaitable[None]]]] = {}

    def channels(self) -> list[str]:
        """The channels this node listens on for calls and notices."""
        return [NOTICE_CHANNEL, RPC_CHANNEL.format(node=self.node_id)]

    def serve(self, method: str, handler: Handler) -> None:
        """Answer `method` when another node calls it here (``call``)."""
        self._served[method] = handler

    async def call(self, node_id: str, method: str, params: dict[str, Any]) -> Any:
        """Call `method` on node `node_id` and return its answer; a RoomError it raised is
        raised here, with its code and message; TimeoutError if the node does not answer."""
        if self.redis is None:
            raise RuntimeError("not in a cluster")
        call_id = secrets.token_hex(8)
        reply = REPLY_KEY.format(id=call_id)
        request = {"id": call_id, "method": method, "params": params, "from": self.node_id}
        listeners = await self.redis.publish(
            RPC_CHANNEL.format(node=node_id), json.dumps(request, ensure_ascii=False)
        )
        if not listeners:
            raise TimeoutError(f"node {node_id} is not listening")
        answer = await self.redis.blpop([reply], timeout=RPC_TIMEOUT_S)
        if answer is None:
            raise TimeoutError(f"node {node_id} did not answer {method}")
        result = json.loads(answer[1])
        if not result.get("ok"):
            error = result.get("error") or {}
            raise RemoteError(str(error.get("code", "internal")), str(error.get("message", "")))
        return result.get("result")

    async def notify(self, kind: str, data: dict[str, Any]) -> None:
        """Tell every other node `kind` (``when_notified``); nothing alone."""
        if self.redis is not None:
            message = {"kind": kind, "node": self.node_id, "data": data}
            await self.redis.publish(NOTICE_CHANNEL, json.dumps(message, ensure_ascii=False))

    def when_notified(
        self, kind: str, handler: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> None:
        """Await `handler` with the data of every `kind` notice from another node."""
        self._on_notice.setdefault(kind, []).append(handler)

    def received(self, channel: str, data: str) -> None:
        """A message on one of ``channels``: handled in a task of its own."""
        if channel == NOTICE_CHANNEL:
            self._tasks.spawn(self._noticed(json.loads(data)), name="cluster-notice")
        elif channel == RPC_CHANNEL.format(node=self.node_id):
            self._tasks.spawn(self._answer(json.loads(data)), name="cluster-call")

    async def _noticed(self, message: dict[str, Any]) -> None:
        if message.get("node") == self.node_id:
            return
        for handler in self._on_notice.get(str(message.get("kind")), []):
            try:
                await handler(dict(message.get("data") or {}))
            except Exception:
                logger.exception("cluster notice %s failed", message.get("kind"))

    async def _answer(self, request: dict[str, Any]) -> None:
        assert self.redis is not None
        handler = self._served.get(str(request.get("method")))
        try:
            if handler is None:
                raise RemoteError("not_found", f"no method {request.get('method')}")
            answer = {"ok": True, "result": await handler(dict(request.get("params") or {}))}
        except RoomError as err:
            answer = {"ok": False, "error": {"code": err.code, "message": err.message}}
        except Exception as exc:
            logger.exception(
                "call %s from node %s failed", request.get("method"), request.get("from")
            )
            answer = {"ok": False, "error": {"code": "internal", "message": str(exc)}}
        reply = REPLY_KEY.format(id=request.get("id"))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(reply, json.dumps(answer, ensure_ascii=False))
            pipe.expire(reply, int(RPC_TIMEOUT_S * 2))
            await pipe.execute()
