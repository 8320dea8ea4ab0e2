"""The REST mechanism: plugin routes through ``cosync_routes``, bearer auth, validation, problems, CORS, jobs
and the audit trail, over real loopback HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from cosync_worker.hooks import Context, RouteSpec, hookimpl, request_body
from cosync_worker.relay import JobAccepted, create_job, update_job
from cosync_worker.store import AuditEntry

from .conftest import TOKENS, RelayFactory

AUTH = {"Authorization": f"Bearer {TOKENS[1]}"}


class SubmitIn(BaseModel):
    deal_id: str = Field(min_length=1)
    amount: int = Field(ge=0)


class SubmitOut(BaseModel):
    deal_id: str
    doubled: int


class EchoPlugin:
    """A third-party plugin: a validated POST, a 202-with-job route, an open route and a broken one."""

    @hookimpl
    def cosync_routes(self, context: Context) -> list[RouteSpec]:
        async def submit(request: web.Request) -> web.Response:
            body = request_body(request, SubmitIn)
            return web.json_response(SubmitOut(deal_id=body.deal_id, doubled=body.amount * 2).model_dump())

        async def start(request: web.Request) -> web.Response:
            job_id = await create_job(
                context.store, "sync", {"deal": request_body(request, SubmitIn).deal_id}
            )
            accepted = JobAccepted(job_id=job_id, location=f"/jobs/{job_id}")
            return web.json_response(accepted.model_dump(), status=202)

        async def public(request: web.Request) -> web.Response:
            return web.json_response({"hello": "world"})

        async def broken(request: web.Request) -> web.Response:
            raise RuntimeError("database password is hunter2")

        return [
            RouteSpec("POST", "/submit-thing", submit, body_model=SubmitIn, response_model=SubmitOut),
            RouteSpec("POST", "/start-sync", start, body_model=SubmitIn, response_model=JobAccepted),
            RouteSpec("GET", "/public-thing", public, auth=False),
            RouteSpec("GET", "/broken", broken),
        ]


async def test_plugin_route_is_mounted_validated_and_authenticated(make_relay: RelayFactory) -> None:
    relay = await make_relay(plugins=[EchoPlugin()])
    url = relay.url + "/submit-thing"
    ok = await relay.session.post(url, json={"deal_id": "D1", "amount": 21}, headers=AUTH)
    assert ok.status == 200
    assert await ok.json() == {"deal_id": "D1", "doubled": 42}

    bad = await relay.session.post(url, json={"deal_id": "", "amount": -1}, headers=AUTH)
    assert bad.status == 422
    assert bad.content_type == "application/problem+json"
    fields = {e["field"] for e in (await bad.json())["errors"]}
    assert fields == {"deal_id", "amount"}

    missing = await relay.session.post(url, json={"amount": 1}, headers=AUTH)
    assert [e["field"] for e in (await missing.json())["errors"]] == ["deal_id"]

    not_json = await relay.session.post(url, data=b"{oops", headers=AUTH)
    assert not_json.status == 400
    assert (await not_json.json())["errors"][0]["field"] == "body"


async def test_bearer_token_is_required_and_checked(make_relay: RelayFactory) -> None:
    relay = await make_relay(plugins=[EchoPlugin()])
    url = relay.url + "/submit-thing"
    body = {"deal_id": "D1", "amount": 1}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKENS[0]}"}):
        resp = await relay.session.post(url, json=body, headers=headers)
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert resp.content_type == "application/problem+json"
    for token in TOKENS:  # several tokens may be valid at once (rotation)
        resp = await relay.session.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200
    # Auth is checked before the body: an anonymous caller learns nothing about the schema.
    anon = await relay.session.post(url, json={"wrong": 1})
    assert anon.status == 401
    open_route = await relay.session.get(relay.url + "/public-thing")
    assert open_route.status == 200


async def test_no_configured_tokens_means_no_access(make_relay: RelayFactory) -> None:
    relay = await make_relay(relay={"api_tokens": []}, plugins=[EchoPlugin()])
    resp = await relay.session.get(relay.url + "/jobs/x", headers=AUTH)
    assert resp.status == 401


async def test_unexpected_error_is_a_500_problem_with_correlation_id(
    make_relay: RelayFactory, capsys: Any
) -> None:
    relay = await make_relay(plugins=[EchoPlugin()])
    resp = await relay.session.get(relay.url + "/broken", headers=AUTH)
    assert resp.status == 500
    text = await resp.text()
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
    problem = await resp.json()
    assert len(problem["correlation_id"]) == 32
    captured = capsys.readouterr()
    logs = captured.out + captured.err
    assert problem["correlation_id"] in logs  # logged with the same id...
    assert "RuntimeError" in logs and "test_api.py" in logs  # ...with what and where...
    assert "hunter2" not in logs  # ...but not the message, which may hold a secret


async def test_job_lifecycle_through_the_api(make_relay: RelayFactory) -> None:
    relay = await make_relay(plugins=[EchoPlugin()])
    resp = await relay.session.post(
        relay.url + "/start-sync", json={"deal_id": "D9", "amount": 0}, headers=AUTH
    )
    assert resp.status == 202
    accepted = await resp.json()
    job_url = relay.url + accepted["location"]
    pending = await (await relay.session.get(job_url, headers=AUTH)).json()
    assert (
        pending["status"] == "pending" and pending["params"] == {"deal": "D9"} and pending["kind"] == "sync"
    )

    await update_job(relay.store, accepted["job_id"], "succeeded", result={"opportunity": "O123"})
    done = await (await relay.session.get(job_url, headers=AUTH)).json()
    assert done["status"] == "succeeded" and done["result"] == {"opportunity": "O123"}
    assert done["updated_at"] >= done["created_at"]

    missing = await relay.session.get(relay.url + "/jobs/nope", headers=AUTH)
    assert missing.status == 404
    assert "nope" not in await missing.text()  # a path parameter is never quoted back


async def test_update_job_rejects_unknown_job_and_status(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    job_id = await create_job(relay.store, "k", {})
    try:
        await update_job(relay.store, job_id, "exploded")
        raise AssertionError("bad status accepted")
    except ValueError as exc:
        assert "exploded" in str(exc)
    try:
        await update_job(relay.store, "missing", "failed", error="x")
        raise AssertionError("missing job accepted")
    except LookupError as exc:
        assert "missing" in str(exc)


async def test_audit_trail_route(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    key = "hubspot:deal:42"
    await relay.store.append_audit(AuditEntry(key, "partnercentral", "create_opportunity", {"id": "O1"}))
    await relay.store.append_audit(AuditEntry(key, "hubspot", "update_deal", {"stage": "won"}))
    await relay.store.append_audit(AuditEntry("hubspot:deal:43", "hubspot", "other"))
    resp = await relay.session.get(f"{relay.url}/audit-trail/{key}", headers=AUTH)
    assert resp.status == 200
    trail = await resp.json()
    assert trail["objectKey"] == key
    assert [e["action"] for e in trail["entries"]] == ["create_opportunity", "update_deal"]
    assert trail["entries"][0]["detail"] == {"id": "O1"}
    empty = await (await relay.session.get(f"{relay.url}/audit-trail/unknown", headers=AUTH)).json()
    assert empty["entries"] == []
    assert (await relay.session.get(f"{relay.url}/audit-trail/{key}")).status == 401


async def test_builtin_routes_are_a_plugin_that_can_be_disabled(make_relay: RelayFactory) -> None:
    on = await make_relay()
    assert on.plugins.has_plugin("cosync_worker.relay.builtin_routes")
    assert (await on.session.get(on.url + "/jobs/x", headers=AUTH)).status == 404  # mounted: no such job
    off = await make_relay(extra={"plugins": {"cosync_worker.relay.builtin_routes": False}})
    resp = await off.session.get(off.url + "/jobs/x", headers=AUTH)
    assert resp.status == 404 and "no route" in (await resp.json())["detail"]
    doc = await (await off.session.get(off.url + "/openapi.json")).json()
    assert "/jobs/{id}" not in doc["paths"]


async def test_cors_only_for_configured_origins(make_relay: RelayFactory) -> None:
    relay = await make_relay(relay={"cors_origins": ["https://app.example.com"]})
    url = relay.url + "/jobs/abc"
    pre = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
    ok = await relay.session.options(url, headers=pre)
    assert ok.status == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
    evil = await relay.session.options(url, headers={**pre, "Origin": "https://evil.example"})
    assert evil.status == 403
    assert "Access-Control-Allow-Origin" not in evil.headers
    simple = await relay.session.get(url, headers={**AUTH, "Origin": "https://app.example.com"})
    assert simple.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    other = await relay.session.get(url, headers={**AUTH, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_unknown_route_and_method_are_problems(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    nf = await relay.session.get(relay.url + "/nowhere")
    assert nf.status == 404 and nf.content_type == "application/problem+json"
    na = await relay.session.get(relay.url + "/webhooks/hubspot")
    assert na.status == 405 and "POST" in na.headers["Allow"]
    assert (await na.json())["status"] == 405


async def test_async_route_hook_is_supported_via_collect_routes(make_relay: RelayFactory) -> None:
    from cosync_worker.hooks import PluginManager
    from cosync_worker.relay import RelayServer, collect_routes, create_app

    relay = await make_relay()

    class AsyncPlugin:
        @hookimpl
        async def cosync_routes(self, context: Context) -> list[RouteSpec]:
            await asyncio.sleep(0)

            async def hi(request: web.Request) -> web.Response:
                return web.json_response({"hi": True})

            return [RouteSpec("GET", "/hi", hi)]

    pm = PluginManager()
    pm.register(AsyncPlugin())
    context = Context(settings=relay.settings, store=relay.store, queue=relay.queue)
    # The plugin manager runs an async declaration hook to completion, so create_app collects it itself;
    # collect_routes (awaiting it on the caller's loop) gives the same routes.
    routes = await collect_routes(pm, context)
    for given in (None, routes):
        app = create_app(
            settings=relay.settings,
            queue=relay.queue,
            store=relay.store,
            plugins=pm,
            context=context,
            routes=given,
        )
        server = RelayServer(app, "127.0.0.1", 0)
        url = await server.start()
        try:
            resp = await relay.session.get(url + "/hi", headers=AUTH)
            assert await resp.json() == {"hi": True}
        finally:
            await server.stop()


async def test_duplicate_route_is_a_clear_error(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    from cosync_worker.hooks import PluginManager
    from cosync_worker.relay import create_app

    pm = PluginManager()
    pm.register(EchoPlugin(), name="a")
    pm.register(EchoPlugin(), name="b")
    context = Context(settings=relay.settings, store=relay.store, queue=relay.queue)
    try:
        create_app(settings=relay.settings, queue=relay.queue, store=relay.store, plugins=pm, context=context)
        raise AssertionError("duplicate accepted")
    except ValueError as exc:
        assert "declared twice" in str(exc)
