"""Clarifications (澄清) and the opening's record handed to the evaluation, over REST.

- ``POST /api/sessions/{evaluation}/clarifications`` {bidder, question}: the host of the main
  venue puts the committee's question to a bidder; ``GET`` lists the questions and answers for
  the evaluation's people;
- ``GET /api/sessions/{opening}/clarifications``: a bidder's questions, in its hall;
  ``POST /api/sessions/{opening}/clarifications/{number}/answer`` {answer}: its answer;
- ``GET /api/sessions/{evaluation}/opening-record``: the opening's record once it ended (bidders,
  their bids' status, the read-out, objections and answers, the benchmark draw, the record
  sheet's digests and signatures), and ``…/opening-record/sheet`` the sheet's PDF.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from roomserver.policy import Action
from signaling.gate.guard import body_of, grants_of, route
from signaling.gate.schemas import Id
from signaling.http.api import SERVICES


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class QuestionRequest(_Body):
    """A question of the committee to a bidder (the bidder's id in the lot's opening)."""

    bidder: Id
    question: Annotated[str, StringConstraints(max_length=2000)]


class AnswerRequest(_Body):
    """A bidder's answer to a clarification question."""

    answer: Annotated[str, StringConstraints(max_length=4000)]


async def ask_bidder(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/clarifications``: the committee's question."""
    services = request.app[SERVICES]
    body = body_of(request, QuestionRequest)
    asked = await services.clarifications.ask(
        request.match_info["session_id"], grants_of(request), body.bidder, body.question
    )
    return web.json_response(asked, status=201)


async def list_clarifications(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/clarifications`` (an evaluation): every question."""
    services = request.app[SERVICES]
    found = await services.clarifications.listing(request.match_info["session_id"])
    return web.json_response({"items": found})


async def bidder_clarifications(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/bidder-clarifications`` (an opening): the questions put
    to the asking bidder."""
    services = request.app[SERVICES]
    found = await services.clarifications.for_bidder(
        request.match_info["session_id"], grants_of(request)
    )
    return web.json_response({"items": found})


async def answer_clarification(request: web.Request) -> web.Response:
    """``POST /api/sessions/{session_id}/bidder-clarifications/{number}/answer``: the bidder's
    answer."""
    services = request.app[SERVICES]
    body = body_of(request, AnswerRequest)
    answered = await services.clarifications.answer(
        request.match_info["session_id"],
        grants_of(request),
        int(request.match_info["number"]),
        body.answer,
    )
    return web.json_response(answered)


async def opening_record(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/opening-record``: the lot's opening, handed over."""
    services = request.app[SERVICES]
    record = await services.clarifications.handed_over(request.match_info["session_id"])
    return web.json_response(record)


async def opening_record_sheet(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/opening-record/sheet``: the signed record sheet (PDF)."""
    services = request.app[SERVICES]
    record = await services.clarifications.handed_over(request.match_info["session_id"])
    pdf = await services.openings.record_pdf(str(record["opening_session"]))
    return web.Response(body=pdf, content_type="application/pdf")


def add_clarification_routes(app: web.Application) -> None:
    """Register the clarification and hand-over routes with their rows."""
    evaluation = "/api/sessions/{session_id}"
    route(
        app,
        "POST",
        f"{evaluation}/clarifications",
        ask_bidder,
        Action.CLARIFY_ASK,
        body=QuestionRequest,
        tag="clarifications",
        summary="主场主持人代评标委员会向投标人提出书面澄清问题",
    )
    route(
        app,
        "GET",
        f"{evaluation}/clarifications",
        list_clarifications,
        Action.WORKFLOW_READ,
        tag="clarifications",
        summary="本场评标的澄清问题与答复",
    )
    route(
        app,
        "GET",
        f"{evaluation}/bidder-clarifications",
        bidder_clarifications,
        Action.CLARIFY_ANSWER,
        tag="clarifications",
        summary="向本投标人提出的澄清问题（开标大厅）",
    )
    route(
        app,
        "POST",
        f"{evaluation}/bidder-clarifications/{{number}}/answer",
        answer_clarification,
        Action.CLARIFY_ANSWER,
        body=AnswerRequest,
        tag="clarifications",
        summary="投标人答复澄清问题",
    )
    route(
        app,
        "GET",
        f"{evaluation}/opening-record",
        opening_record,
        Action.WORKFLOW_READ,
        tag="clarifications",
        summary="开标记录（开标结束后交评标委员会）",
    )
    route(
        app,
        "GET",
        f"{evaluation}/opening-record/sheet",
        opening_record_sheet,
        Action.WORKFLOW_READ,
        query_token=True,
        tag="clarifications",
        summary="已签署的开标记录表（PDF）",
    )
