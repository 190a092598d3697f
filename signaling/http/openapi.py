"""The API's own description: an OpenAPI 3.1 document built from the routes as registered.

Every REST route is registered with ``signaling.gate.guard.route``, which keeps its row of the
policy table and the pydantic models of its body, query and answer; the middleware checks a
request against those same models before the handler runs. So the document cannot drift from
what the server does: it is read off the registry at start-up. Each operation's ``operationId``
is its handler's name, its summary the Chinese line given at registration, its tag the resource,
and ``x-policy`` says who may call it (the roles and how far their token reaches).

``GET /api/openapi.json`` serves the document; ``GET /api/docs`` is a page that lays it out.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from roomserver.policy import POLICY, Action, Reach
from signaling.gate.guard import ENDPOINTS, SESSION_COOKIE, Endpoint, route
from signaling.gate.inputs import PATH_PATTERNS
from signaling.http.api import PAGE_HEADERS, WEB_DIR

OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)
TITLE = "远程异地评标系统 API"
VERSION = "1"
PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `code` is stable, `detail` is shown to users.",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
    },
}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
    "queryToken": {"type": "apiKey", "in": "query", "name": "token"},
}
REFUSALS = {
    "400": "请求格式不正确",
    "401": "缺少或无效的登录凭证",
    "403": "无权进行该操作",
    "404": "未找到",
    "409": "与当前状态冲突",
    "413": "请求体过大",
}


# The health probes, described with the API for whoever monitors the server.
PROBES = ("/healthz", "/livez", "/readyz")


def build_document(endpoints: dict[tuple[str, str], Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the routes under ``/api/`` (and the probes)."""
    documented = {
        key: e for key, e in endpoints.items() if key[1].startswith("/api/") or key[1] in PROBES
    }
    models = _models(documented.values())
    _, definitions = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    for schema in schemas.values():
        # A model's docstring is written for the code's readers, in English; fields say what
        # they are through their names, types and constraints.
        schema.pop("description", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), endpoint in sorted(documented.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        paths.setdefault(PARAMETER.sub(r"{\1}", path), {})[method.lower()] = _operation(
            path, endpoint
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "远程异地开标评标系统的 REST 接口。时间均为带时区的 ISO 8601；错误以 "
                "application/problem+json 返回，code 字段稳定，detail 字段为中文说明。"
            ),
        },
        "tags": [{"name": tag} for tag in sorted({e.tag for e in documented.values()})],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


def _models(endpoints: Any) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for endpoint in endpoints:
        for model in (endpoint.body, endpoint.query, endpoint.answer):
            if model is not None:
                seen.setdefault(model.__name__, model)
    return [seen[name] for name in sorted(seen)]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(path: str, endpoint: Endpoint) -> dict[str, Any]:
    rule = POLICY[endpoint.action]
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "tags": [endpoint.tag],
        "summary": endpoint.summary,
        "x-policy": {
            "action": endpoint.action.value,
            "roles": sorted(role.value for role in rule.roles),
            "reach": rule.reach.value,
        },
    }
    parameters = [_path_parameter(name) for name in PARAMETER.findall(path)]
    if endpoint.query is not None:
        parameters += _query_parameters(endpoint.query)
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(endpoint.body)}},
        }
    answer: dict[str, Any] = {"description": "成功"}
    if endpoint.answer is not None:
        answer["content"] = {"application/json": {"schema": _ref(endpoint.answer)}}
    responses: dict[str, Any] = {"200": answer}
    for status, text in REFUSALS.items():
        responses[status] = {
            "description": text,
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
    operation["responses"] = responses
    if rule.reach in (Reach.ANYONE, Reach.LOCAL):
        operation["security"] = []
    else:
        schemes: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": []}]
        if endpoint.query_token:
            schemes.append({"queryToken": []})
        operation["security"] = schemes
    return operation


def _path_parameter(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    pattern = PATH_PATTERNS.get(name)
    if pattern is not None:
        schema["pattern"] = f"^{pattern.pattern}$"
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in field.items() if k != "title"},
        }
        for name, field in schema.get("properties", {}).items()
    ]


async def openapi_document(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this server's REST interface (built when first asked for:
    at the start it cost a tenth of a second that every restart waited for)."""
    document = request.app[OPENAPI]
    if not document:
        document.update(build_document(request.app[ENDPOINTS]))
    return web.json_response(document)


async def api_docs_page(request: web.Request) -> web.FileResponse:
    """The page that lays the API document out (接口说明)."""
    return web.FileResponse(WEB_DIR / "api-docs.html", headers=PAGE_HEADERS)


def add_openapi_routes(app: web.Application) -> None:
    """Register the document and its page."""
    route(
        app,
        "GET",
        "/api/openapi.json",
        openapi_document,
        Action.API_DOCS,
        tag="docs",
        summary="本接口说明（OpenAPI 3.1）",
    )
    route(app, "GET", "/api/docs", api_docs_page, Action.PAGE, tag="docs", summary="接口说明页面")
    app[OPENAPI] = {}  # filled on the first request, once every route is in
