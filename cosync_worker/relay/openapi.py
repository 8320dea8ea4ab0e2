"""OpenAPI 3.1 document of the relay, generated from the pydantic models the routes validate with.

Spec: https://spec.openapis.org/oas/v3.1.0 . Schemas come from ``model_json_schema`` (JSON Schema 2020-12,
which OpenAPI 3.1 uses as-is), so the document cannot drift from the validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from .keys import OPERATIONS
from .problems import PROBLEM_CONTENT_TYPE, Problem

__all__ = ["OperationDoc", "build_openapi", "openapi_handler", "openapi_path"]

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def openapi_path(aiohttp_path: str) -> str:
    """``/audit-trail/{objectKey:.+}`` -> ``/audit-trail/{objectKey}`` (OpenAPI has no regex in paths)."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", aiohttp_path)


@dataclass
class OperationDoc:
    """What the document says about one operation; every route the relay mounts registers one."""

    method: str
    path: str
    summary: str = ""
    tags: tuple[str, ...] = ()
    auth: bool = True
    body_model: type[BaseModel] | None = None
    body_schema: dict[str, Any] | None = None
    body_array_model: type[BaseModel] | None = None  # the body is a JSON array of this model
    response_model: type[BaseModel] | None = None
    response_status: int | str = 200  # "2XX" when the route may answer 200, 201 or 202
    response_content_type: str = "application/json"
    response_schema: dict[str, Any] | None = None
    error_statuses: tuple[int, ...] = ()
    error_descriptions: dict[int, str] = field(default_factory=dict)
    # name -> {"schema", "required", "description"} (from a route's query model)
    query_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    header_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_responses: dict[int, dict[str, Any]] = field(default_factory=dict)


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=_REF)
        for name, sub in schema.pop("$defs", {}).items():
            self.components.setdefault(name, sub)
        self.components.setdefault(model.__name__, schema)
        return {"$ref": _REF.format(model=model.__name__)}


_DESCRIPTIONS = {
    400: "The request is malformed (the problem names the field)",
    401: "Missing or invalid credentials",
    403: "Forbidden",
    404: "No such resource",
    405: "Method not allowed",
    413: "The body is larger than relay.max_body_bytes",
    422: "The body does not match its schema (the problem names the field)",
    500: "Unexpected error (quote the correlation id)",
    503: "A dependency is unavailable; retry later",
}


def _query_param(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    param = {"name": name, "in": "query", "required": bool(spec.get("required")), "schema": spec["schema"]}
    if spec.get("description"):
        param["description"] = spec["description"]
    return param


def _operation(doc: OperationDoc, schemas: _Schemas, problem_ref: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{doc.method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', openapi_path(doc.path)).strip('_')}",
        "summary": doc.summary,
        "tags": list(doc.tags),
    }
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in _PARAM.findall(doc.path)
    ]
    params += [_query_param(n, s) for n, s in doc.query_params.items()]
    params += [
        {"name": n, "in": "header", "required": False, "schema": s} for n, s in doc.header_params.items()
    ]
    if params:
        op["parameters"] = params
    body: dict[str, Any] | None = None
    if doc.body_model is not None:
        body = schemas.ref(doc.body_model)
    elif doc.body_array_model is not None:
        body = {"type": "array", "items": schemas.ref(doc.body_array_model)}
    elif doc.body_schema is not None:
        body = doc.body_schema
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    ok_schema: dict[str, Any] = (
        schemas.ref(doc.response_model)
        if doc.response_model is not None
        else doc.response_schema or {"type": "object"}
    )
    responses: dict[str, Any] = {
        str(doc.response_status): {
            "description": "Success",
            "content": {doc.response_content_type: {"schema": ok_schema}},
        }
    }
    for status, spec in doc.extra_responses.items():
        responses[str(status)] = spec
    statuses = set(doc.error_statuses) | {405, 500}
    if doc.auth:
        statuses.add(401)
    if body is not None:
        statuses |= {400, 413, 422}
    if _PARAM.search(doc.path):
        statuses.add(404)
    for status in sorted(statuses):
        if str(status) in responses:
            continue
        responses[str(status)] = {
            "description": doc.error_descriptions.get(status, _DESCRIPTIONS.get(status, "Error")),
            "content": {PROBLEM_CONTENT_TYPE: {"schema": problem_ref}},
        }
    op["responses"] = responses
    op["security"] = [{"bearerAuth": []}] if doc.auth else []
    return op


def build_openapi(operations: list[OperationDoc], *, title: str = "cosync relay") -> dict[str, Any]:
    schemas = _Schemas()
    problem_ref = schemas.ref(Problem)
    paths: dict[str, dict[str, Any]] = {}
    for doc in operations:
        paths.setdefault(openapi_path(doc.path), {})[doc.method.lower()] = _operation(
            doc, schemas, problem_ref
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1",
            "description": "HubSpot webhook intake, the REST API of cosync's plugins, and operations endpoints.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


async def openapi_handler(request: web.Request) -> web.Response:
    """``GET /openapi.json``; built per request since it is cheap and plugins are fixed at start."""
    return web.json_response(build_openapi(request.app[OPERATIONS]))
