"""The OpenAPI document: its content, and schemathesis fuzzing every operation against it (no 5xx, every
response conforms to the document)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import hypothesis
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase
from pydantic import BaseModel, ConfigDict, Field
from schemathesis import GenerationMode

from cosync_worker.hooks import Context, RouteSpec, hookimpl, request_query

from .conftest import TOKENS, RelayFactory
from .test_api import EchoPlugin

AUTH = {"Authorization": f"Bearer {TOKENS[0]}"}


async def test_document_covers_webhooks_ops_plugins_and_problem(make_relay: RelayFactory) -> None:
    relay = await make_relay(plugins=[EchoPlugin()])
    doc = await (await relay.session.get(relay.url + "/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    for path in (
        "/webhooks/hubspot",
        "/webhook/deal-update",
        "/healthz",
        "/readyz",
        "/metrics",
        "/jobs/{id}",
        "/audit-trail/{objectKey}",
        "/submit-thing",
    ):
        assert path in paths, path
    schemas = doc["components"]["schemas"]
    assert {"Problem", "FieldError", "SubmitIn", "SubmitOut", "HubSpotWebhookEvent", "Job"} <= set(schemas)
    # The schema validated against is the one documented.
    assert schemas["SubmitIn"]["properties"]["amount"]["minimum"] == 0
    submit = paths["/submit-thing"]["post"]
    assert submit["security"] == [{"bearerAuth": []}]
    assert submit["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SubmitIn"
    }
    assert "application/problem+json" in submit["responses"]["422"]["content"]
    webhook = paths["/webhooks/hubspot"]["post"]
    assert webhook["security"] == []
    assert "X-HubSpot-Signature-v3" in {p["name"] for p in webhook["parameters"]}


def _fuzz(base_url: str) -> list[str]:
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json", timeout=10)
    seen: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(operation.label)
        if operation.path == "/broken":
            continue  # the test plugin's deliberately failing route (its 500 is tested in test_api)
        alias = operation.path.startswith("/webhook/")  # same handler as /webhooks/hubspot
        _run(base_url, operation, AUTH, 5 if alias else 25)
        _run(base_url, operation, {}, 2 if alias else 5)  # anonymous: must be refused or served, never crash
        if not alias and (operation.method.upper() == "POST" or "{" in operation.path):  # has inputs
            _run(base_url, operation, AUTH, 5, GenerationMode.NEGATIVE)  # invalid input must be a 4xx
    return seen


def _run(
    base_url: str, operation: Any, headers: dict[str, str], examples: int, mode: Any = GenerationMode.POSITIVE
) -> None:
    @hypothesis.settings(
        max_examples=examples,
        deadline=2000,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, timeout=10)

    check()


async def test_schemathesis_finds_no_server_errors_or_nonconforming_responses(
    make_relay: RelayFactory,
) -> None:
    relay = await make_relay(plugins=[EchoPlugin()])
    seen = await asyncio.wait_for(asyncio.to_thread(_fuzz, relay.url), timeout=120)
    assert "POST /webhooks/hubspot" in seen and "GET /jobs/{id}" in seen and "POST /submit-thing" in seen


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(10, ge=1, le=100, description="at most this many")
    kind: Literal["a", "b"]


class QueryPlugin:
    @hookimpl
    def cosync_routes(self, context: Context) -> list[RouteSpec]:
        async def things(request: web.Request) -> web.Response:
            query = request_query(request, _Query)
            return web.json_response({"limit": query.limit, "kind": query.kind})

        return [
            RouteSpec(
                "GET",
                "/things",
                things,
                query_model=_Query,
                error_statuses=(404, 503),
                error_descriptions={503: "The things are resting; retry later"},
            )
        ]


async def test_route_query_and_error_statuses_are_declared_validated_and_documented(
    make_relay: RelayFactory,
) -> None:
    relay = await make_relay(plugins=[QueryPlugin()])
    doc = await (await relay.session.get(relay.url + "/openapi.json")).json()
    operation = doc["paths"]["/things"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["limit"] == {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        "description": "at most this many",
    }
    assert params["kind"]["required"] is True and params["kind"]["schema"]["enum"] == ["a", "b"]
    responses = operation["responses"]
    assert responses["503"]["description"] == "The things are resting; retry later"
    assert {"400", "404", "503"} <= set(responses)
    assert "application/problem+json" in responses["404"]["content"]
    async with relay.session.get(relay.url + "/things?kind=b&limit=3", headers=AUTH) as resp:
        assert resp.status == 200 and await resp.json() == {"limit": 3, "kind": "b"}
    for query, field in (
        ("limit=3", "query.kind"),
        ("kind=c", "query.kind"),
        ("kind=a&limit=0", "query.limit"),
    ):
        async with relay.session.get(relay.url + "/things?" + query, headers=AUTH) as resp:
            assert resp.status == 400 and resp.content_type == "application/problem+json", query
            assert (await resp.json())["errors"][0]["field"] == field
    async with relay.session.get(relay.url + "/things?kind=a&<script>=1", headers=AUTH) as resp:
        problem = await resp.json()
        assert resp.status == 400 and "<script>" not in json.dumps(problem)
