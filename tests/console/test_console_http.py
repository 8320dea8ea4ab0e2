"""The console over plain HTTP (no browser): off unless enabled, sign-in, bad input answered with a page
naming the problem (4xx, never a 5xx) without quoting what was sent, and its actions run as the signed-in
user."""

from __future__ import annotations

import re

import aiohttp
from cosync_aws import declarations as aws_declarations

from cosync_worker.relay.keys import CONTEXT
from tests.conflicts.test_routes import _Config, _seed
from tests.relay.conftest import TOKENS, Relay, RelayFactory
from tests.relay.conftest import make_relay as make_relay  # the relay fixture, reused

ADMIN = {"token": "console-http-admin-0c1d", "user": "ada", "role": "admin"}


async def test_off_unless_enabled_and_status_needs_a_token(make_relay: RelayFactory) -> None:
    relay = await make_relay()
    async with relay.session.get(relay.url + "/console") as r:
        assert r.status == 404
    async with relay.session.get(relay.url + "/status") as r:
        assert r.status == 401
    async with relay.session.get(
        relay.url + "/status", headers={"Authorization": f"Bearer {TOKENS[1]}"}
    ) as r:
        assert r.status == 200
        assert (await r.json())["queue"]["dead_letters"] == 0


async def _signed_in(relay: Relay, browser: aiohttp.ClientSession) -> str:
    """Sign in as the admin; the session's CSRF token."""
    async with browser.post(relay.url + "/console/signin", data={"token": ADMIN["token"]}) as r:
        assert r.status == 200 and r.url.path == "/console"
        page = await r.text()
        assert ADMIN["token"] not in page
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    return csrf.group(1)


async def test_bad_input_is_a_clear_4xx(make_relay: RelayFactory) -> None:
    relay = await make_relay(relay={"console": {"enabled": True}, "api_tokens": [ADMIN]})
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.post(relay.url + "/console/signin", data={"token": "x" * 5000}) as r:
            assert r.status == 401
            assert "x" * 20 not in await r.text()
        token = await _signed_in(relay, browser)
        cases = [
            (
                "/console/rollback",
                {"csrf": token, "at": "yesterday", "opportunity": "O1", "connector": "aws"},
                422,
            ),
            ("/console/rollback", {"csrf": token, "at": "1", "opportunity": "<b>", "connector": "nope"}, 422),
            ("/console/conflicts/nope-123/resolve", {"csrf": token, "resolution": "USE_HUBSPOT_VALUE"}, 404),
            ("/console/conflicts/c1/resolve", {"csrf": token, "resolution": "FLIP_A_COIN"}, 422),
            ("/console/dlq/replay", {"csrf": token}, 422),
            ("/console/deals/12ab/sync", {"csrf": token}, 404),
        ]
        for path, form, status in cases:
            async with browser.post(relay.url + path, data=form, allow_redirects=False) as r:
                body = await r.text()
                assert r.status == status, (path, r.status, body)
                assert "FLIP_A_COIN" not in body and "<b>" not in body
        for path in ("/console/deals/99999", "/console/dlq/nope", "/console/jobs/nope"):
            async with browser.get(relay.url + path) as r:
                assert r.status == 404, path


async def test_resolve_and_rollback_run_as_the_signed_in_user(make_relay: RelayFactory) -> None:
    """The console calls the API's own routes, whose governance (only the deal's owner or an admin) asks who
    is calling: the signed-in admin, not an anonymous caller they would refuse (403, or 503 without HubSpot)."""
    relay = await make_relay(
        relay={"console": {"enabled": True}, "api_tokens": [ADMIN]}, plugins=[aws_declarations]
    )
    relay.server.app[CONTEXT].connector_configs["aws"] = _Config()  # as if the connector ran here
    conflict = await _seed(relay)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        csrf = await _signed_in(relay, browser)
        actions = [
            (f"/console/conflicts/{conflict.id}/resolve", {"resolution": "USE_HUBSPOT_VALUE"}),
            ("/console/rollback", {"at": "1771405200", "opportunity": "O42", "connector": "aws"}),
        ]
        for path, form in actions:
            async with browser.post(
                relay.url + path, data={"csrf": csrf, **form}, allow_redirects=False
            ) as r:
                assert r.status == 303, (path, r.status, await r.text())
                assert r.headers["Location"].startswith("/console/jobs/")
    events = await relay.enqueued()
    assert [(e["type"], e["payload"]["actor"]) for e in events] == [
        ("aws.resolve_conflict", "ada"),
        ("aws.rollback", "ada"),
    ]
