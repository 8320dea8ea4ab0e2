"""Reading HubSpot-style request input: JSON bodies, comma-or-repeated list query params, ints."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .errors import HubSpotError, validation_error
from .objects import Actor

__all__ = ["ACTOR", "actor", "inputs", "int_param", "json_body", "json_object", "list_param", "str_list"]

ACTOR = web.RequestKey("hubspot_actor", Actor)


def actor(request: web.Request) -> Actor:
    return request[ACTOR]


async def json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HubSpotError(
            400, "VALIDATION_ERROR", f"Invalid input JSON on line {getattr(exc, 'lineno', 1)}: {exc}"
        ) from None


async def json_object(request: web.Request, *required: str) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    missing = [k for k in required if k not in body]
    if missing:
        raise validation_error(f"Invalid input JSON: missing required field(s) {', '.join(missing)}")
    return body


def list_param(request: web.Request, name: str) -> list[str]:
    """HubSpot takes ``?properties=a,b`` as well as ``?properties=a&properties=b``."""
    return [part for raw in request.query.getall(name, []) for part in raw.split(",") if part]


def int_param(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise validation_error(f"{name} must be an integer between 1 and {maximum}", **{name: [raw]})
    return int(raw)


def str_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise validation_error(f"{name} must be a list of strings")
    return value


def inputs(body: dict[str, Any], limit: int = 100) -> list[Any]:
    value = body.get("inputs")
    if not isinstance(value, list):
        raise validation_error("Invalid input JSON: 'inputs' must be a list")
    if len(value) > limit:
        raise validation_error(f"Batch size {len(value)} is larger than the limit of {limit}")
    return value
