"""The Microsoft Partner Center Referrals emulator, driven over real loopback HTTP (and by MSAL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.sandbox.microsoft import throttle as throttle_module
from cosync_worker.sandbox.microsoft import tokens as tokens_module
from cosync_worker.testing.clock import drive_time

API = "/v1.0/engagements/referrals"
TIMEOUT = aiohttp.ClientTimeout(total=20)


def valid_referral(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Contoso deal",
        "externalReferenceId": "hs-deal-1",
        "type": "Independent",
        "qualification": "SalesQualified",
        "customerProfile": {
            "name": "Contoso Customer Inc",
            "address": {"addressLine1": "One Microsoft Way", "city": "Redmond", "country": "US"},
            "size": "10to50employees",
            "team": [{"firstName": "Jo", "lastName": "Doe", "email": "jo@contoso.test", "phoneNumber": "1"}],
        },
        "consent": {"consentToShareReferralWithMicrosoftSellers": False},
        "details": {"dealValue": 5000, "currency": "USD", "closingDateTime": "2030-01-31T00:00:00Z"},
    }
    body.update(overrides)
    return body


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        yield session


async def get_token(http: aiohttp.ClientSession, emulator: MicrosoftEmulator) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "scope": "https://api.partner.microsoft.com/.default",
    }
    async with http.post(emulator.token_url, data=form) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["access_token"])


async def authed(http: aiohttp.ClientSession, emulator: MicrosoftEmulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {await get_token(http, emulator)}"}


# -- token endpoint ------------------------------------------------------------------------------


async def test_token_endpoint_grants(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    form = {"grant_type": "client_credentials", "client_id": em.client_id, "client_secret": em.client_secret}
    async with http.post(em.token_url, data=form) as resp:
        assert resp.status == 200
        first = await resp.json()
    assert first["token_type"] == "Bearer" and first["expires_in"] == 3600
    assert first["access_token"] and first["refresh_token"]
    for refresh in (first["refresh_token"], em.refresh_token):
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": em.client_id,
            "client_secret": em.client_secret,
        }
        async with http.post(em.token_url, data=form) as resp:
            assert resp.status == 200
            assert (await resp.json())["access_token"] != first["access_token"]
    assert em.tokens_issued == 3


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "client_credentials", "client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"client_secret": None}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "stolen"}, 400, "invalid_grant"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": "someone-else"}, 400, "unauthorized_client"),
    ],
)
async def test_token_endpoint_refusals(
    microsoft_emulator: MicrosoftEmulator,
    http: aiohttp.ClientSession,
    form: dict[str, Any],
    status: int,
    error: str,
) -> None:
    em = microsoft_emulator
    data = {"client_id": em.client_id, "client_secret": em.client_secret, **form}
    data = {k: v for k, v in data.items() if v is not None}
    async with http.post(em.token_url, data=data) as resp:
        assert resp.status == status
        body = await resp.json()
    assert body["error"] == error and body["error_description"].startswith("AADSTS")
    assert em.client_secret not in str(body)
    assert em.tokens_issued == 0


async def test_token_endpoint_wrong_tenant_and_content_type(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    async with http.post(f"{em.base_url}/other-tenant/oauth2/v2.0/token", data={"grant_type": "x"}) as resp:
        assert resp.status == 400 and "not found" in (await resp.json())["error_description"]
    async with http.post(em.token_url, json={"grant_type": "client_credentials"}) as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


async def test_discovery_documents(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    async with http.get(f"{em.base_url}/{em.tenant_id}/v2.0/.well-known/openid-configuration") as resp:
        config = await resp.json()
    assert config["token_endpoint"] == em.token_url
    async with http.get(f"{em.base_url}/common/discovery/instance") as resp:
        instance = await resp.json()
    assert instance["tenant_discovery_endpoint"].endswith("/v2.0/.well-known/openid-configuration")
    async with http.get(f"{em.base_url}/nope/v2.0/.well-known/openid-configuration") as resp:
        assert resp.status == 400


async def test_msal_confidential_client_gets_a_token_that_the_api_accepts(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    msal = pytest.importorskip("msal")
    requests = pytest.importorskip("requests")
    em = microsoft_emulator

    class LoopbackSession(requests.Session):  # type: ignore[misc,name-defined]
        """MSAL only accepts https authorities; speak plain HTTP to the loopback emulator instead."""

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if url.startswith("https://127.0.0.1"):
                url = "http://" + url[len("https://") :]
                kwargs["headers"] = {**(kwargs.get("headers") or {}), "X-Forwarded-Proto": "https"}
            return super().request(method, url, *args, **kwargs)

    def acquire() -> dict[str, Any]:
        app = msal.ConfidentialClientApplication(
            em.client_id,
            client_credential=em.client_secret,
            authority=f"https://127.0.0.1:{em.port}/{em.tenant_id}",
            instance_discovery=False,
            http_client=LoopbackSession(),
        )
        return dict(app.acquire_token_for_client(scopes=["https://api.partner.microsoft.com/.default"]))

    result = await asyncio.to_thread(acquire)
    assert "access_token" in result, result
    assert em.tokens_issued == 1
    async with http.get(
        em.base_url + API, headers={"Authorization": f"Bearer {result['access_token']}"}
    ) as resp:
        assert resp.status == 200


# -- auth, expiry, throttling --------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer ", "Bearer not-issued"])
async def test_api_requires_a_valid_bearer(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    async with http.get(microsoft_emulator.base_url + API, headers=headers) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        body = await resp.json()
    assert body["code"] == "Unauthorized" and body["message"]


async def test_expired_token_is_refused(http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = drive_time(monkeypatch, tokens_module)
    async with MicrosoftEmulator(token_lifetime_seconds=0.3) as em:
        assert isinstance(em, MicrosoftEmulator)
        headers = await authed(http, em)
        async with http.get(em.base_url + API, headers=headers) as resp:
            assert resp.status == 200
        clock.advance(0.3)
        async with http.get(em.base_url + API, headers=headers) as resp:
            assert resp.status == 401
            assert "expired" in (await resp.json())["message"]


async def test_throttling_answers_429_with_retry_after(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = drive_time(monkeypatch, throttle_module)  # the four calls land in one second, however slow
    async with MicrosoftEmulator(rate_per_second=3) as em:
        assert isinstance(em, MicrosoftEmulator)
        headers = await authed(http, em)
        statuses = []
        for _ in range(4):
            async with http.get(em.base_url + API, headers=headers) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    assert int(resp.headers["Retry-After"]) >= 1
                    assert (await resp.json())["code"] == "TooManyRequests"
        assert statuses == [200, 200, 200, 429]
        clock.advance(1.0)
        async with http.get(em.base_url + API, headers=headers) as resp:
            assert resp.status == 200


# -- create / get --------------------------------------------------------------------------------


async def test_create_and_get_referral(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    headers = await authed(http, em)
    async with http.post(em.base_url + API, json=valid_referral(), headers=headers) as resp:
        assert resp.status == 201
        created = await resp.json()
        assert resp.headers["ETag"] == created["eTag"]
    assert created["status"] == "Active" and created["substatus"] == "Accepted"
    assert created["direction"] == "Outgoing" and created["externalReferenceId"] == "hs-deal-1"
    for key in ("id", "engagementId", "organizationId", "createdDateTime", "updatedDateTime", "eTag"):
        assert created[key], key
    assert em.referrals()[created["id"]]["name"] == "Contoso deal"
    async with http.get(f"{em.base_url}{API}/{created['id']}", headers=headers) as resp:
        assert resp.status == 200
        assert await resp.json() == created
    async with http.get(f"{em.base_url}{API}/does-not-exist", headers=headers) as resp:
        assert resp.status == 404
        body = await resp.json()
    assert body["code"] == "NotFound" and "does-not-exist" in body["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (valid_referral(colour="red"), "colour"),
        (valid_referral(name=123), "name"),
        (valid_referral(customerProfile={"name": "X", "shoeSize": 9}), "customerProfile.shoeSize"),
        (valid_referral(details={"dealValue": "lots"}), "details.dealValue"),
        (
            valid_referral(consent={"consentToShareReferralWithMicrosoftSellers": "yes"}),
            "consent.consentToShare",
        ),
        (valid_referral(status="Pending"), "status"),
        (valid_referral(status="New", substatus="Won"), "substatus"),
        (valid_referral(customerProfile={"name": "X", "team": {"a": 1}}), "customerProfile.team"),
        ({k: v for k, v in valid_referral().items() if k != "name"}, "name"),
        (valid_referral(customerProfile={"size": "small"}), "customerProfile.name"),
        ({k: v for k, v in valid_referral().items() if k != "consent"}, "consent"),
        ({k: v for k, v in valid_referral().items() if k != "details"}, "details"),
        (valid_referral(details={"closingDateTime": "next tuesday"}), "details.closingDateTime"),
        ([valid_referral()], "JSON object"),
    ],
)
async def test_create_rejects_bad_input_naming_the_field(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession, body: Any, field: str
) -> None:
    em = microsoft_emulator
    async with http.post(em.base_url + API, json=body, headers=await authed(http, em)) as resp:
        assert resp.status == 400
        error = await resp.json()
    assert error["code"] == "InvalidInput"
    assert field in error["message"]
    assert em.referrals() == {}


async def test_create_rejects_malformed_json(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    headers = {**(await authed(http, em)), "Content-Type": "application/json"}
    async with http.post(em.base_url + API, data=b"{not json", headers=headers) as resp:
        assert resp.status == 400
        assert "not valid JSON" in (await resp.json())["message"]


# -- patch / eTag --------------------------------------------------------------------------------


async def _create(
    http: aiohttp.ClientSession, em: MicrosoftEmulator, headers: dict[str, str]
) -> dict[str, Any]:
    async with http.post(em.base_url + API, json=valid_referral(), headers=headers) as resp:
        assert resp.status == 201
        return dict(await resp.json())


async def test_patch_with_json_patch_and_etag(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    headers = await authed(http, em)
    created = await _create(http, em, headers)
    ops = [
        {"op": "replace", "path": "/details/dealValue", "value": "10000"},
        {"op": "add", "path": "/team/-", "value": {"email": "jane@contoso.test", "firstName": "Jane"}},
    ]
    url = f"{em.base_url}{API}/{created['id']}"
    async with http.patch(url, json=ops, headers={**headers, "If-Match": created["eTag"]}) as resp:
        assert resp.status == 204
        new_etag = resp.headers["ETag"]
    assert new_etag != created["eTag"]
    async with http.get(url, headers=headers) as resp:
        after = await resp.json()
    assert after["details"]["dealValue"] == "10000" and after["team"][-1]["firstName"] == "Jane"
    assert after["eTag"] == new_etag and after["updatedDateTime"] > created["updatedDateTime"]
    # A partial Referral object also works, and Prefer: return=representation returns the result.
    patch_headers = {**headers, "If-Match": f'"{new_etag}"', "Prefer": "return=representation"}
    async with http.patch(url, json={"status": "Closed", "substatus": "Won"}, headers=patch_headers) as resp:
        assert resp.status == 200
        won = await resp.json()
    assert won["status"] == "Closed" and won["substatus"] == "Won" and won["name"] == "Contoso deal"


async def test_stale_etag_is_a_412(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    headers = await authed(http, em)
    created = await _create(http, em, headers)
    url = f"{em.base_url}{API}/{created['id']}"
    op = [{"op": "replace", "path": "/name", "value": "first writer"}]
    async with http.patch(url, json=op, headers={**headers, "If-Match": created["eTag"]}) as resp:
        assert resp.status == 204
    op = [{"op": "replace", "path": "/name", "value": "second writer"}]
    async with http.patch(url, json=op, headers={**headers, "If-Match": created["eTag"]}) as resp:
        assert resp.status == 412
        body = await resp.json()
    assert body["code"] == "PreconditionFailed" and created["id"] in body["message"]
    assert em.referrals()[created["id"]]["name"] == "first writer"
    async with http.patch(url, json=op, headers=headers) as resp:
        assert resp.status == 428
        assert (await resp.json())["code"] == "PreconditionRequired"
    async with http.patch(url, json=op, headers={**headers, "If-Match": "*"}) as resp:
        assert resp.status == 204
    assert em.referrals()[created["id"]]["name"] == "second writer"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ([{"op": "remove", "path": "/name"}], "not supported"),
        ([{"op": "replace", "path": "/id", "value": "x"}], "read-only"),
        ([{"op": "replace", "path": "/details/dealValue", "value": "lots"}], "details.dealValue"),
        ([{"op": "replace", "path": "/status", "value": "Closed"}], "substatus"),
        ([{"op": "replace", "path": "name", "value": "x"}], "path"),
        ([{"op": "replace", "path": "/name"}], "value"),
        (["not an op"], "must be an object"),
        ({"favouriteColour": "red"}, "favouriteColour"),
        ({"eTag": "forged"}, "read-only"),
        ("just a string", "JSON Patch"),
    ],
)
async def test_patch_rejects_bad_input(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession, body: Any, needle: str
) -> None:
    em = microsoft_emulator
    headers = await authed(http, em)
    created = await _create(http, em, headers)
    url = f"{em.base_url}{API}/{created['id']}"
    async with http.patch(url, json=body, headers={**headers, "If-Match": created["eTag"]}) as resp:
        assert resp.status == 400
        error = await resp.json()
    assert error["code"] == "InvalidInput" and needle in error["message"]
    assert em.referrals()[created["id"]] == created


async def test_patch_unknown_referral_is_404(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    headers = {**(await authed(http, em)), "If-Match": "*"}
    async with http.patch(f"{em.base_url}{API}/nope", json=[], headers=headers) as resp:
        assert resp.status == 404 and (await resp.json())["code"] == "NotFound"


# -- list, filters, paging -----------------------------------------------------------------------


async def _list(
    http: aiohttp.ClientSession, em: MicrosoftEmulator, headers: dict[str, str], **params: str
) -> tuple[int, dict[str, Any]]:
    async with http.get(em.base_url + API, params=params, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_list_filters_and_orderby(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    headers = await authed(http, em)
    mine = await _create(http, em, headers)
    incoming = [em.add_incoming_referral({"name": f"in-{i}"}) for i in range(3)]
    await asyncio.sleep(0.01)
    async with http.post(
        f"{em.base_url}/_sandbox/referrals/{incoming[0]['id']}",
        json={"status": "Active", "substatus": "Engaged"},
    ) as resp:
        assert resp.status == 200
        changed = await resp.json()

    def ids(body: dict[str, Any]) -> set[str]:
        return {r["id"] for r in body["value"]}

    _, new = await _list(http, em, headers, **{"$filter": "status eq 'New'"})
    assert ids(new) == {incoming[1]["id"], incoming[2]["id"]} and new["totalCount"] == 2
    _, active = await _list(http, em, headers, **{"$filter": "status eq 'Active'"})
    assert ids(active) == {mine["id"], changed["id"]}
    _, either = await _list(
        http, em, headers, **{"$filter": "(status eq 'New' or status eq 'Active') and name ne 'in-2'"}
    )
    assert ids(either) == {mine["id"], changed["id"], incoming[1]["id"]}
    _, by_ext = await _list(http, em, headers, **{"$filter": "externalReferenceId eq 'hs-deal-1'"})
    assert ids(by_ext) == {mine["id"]}
    since = incoming[2]["updatedDateTime"]
    _, gt = await _list(http, em, headers, **{"$filter": f"updatedDateTime gt {since}"})
    assert ids(gt) == {changed["id"]}
    _, ge = await _list(http, em, headers, **{"$filter": f"updatedDateTime ge '{since}'"})
    assert incoming[2]["id"] in ids(ge) and changed["id"] in ids(ge)
    _, country = await _list(http, em, headers, **{"$filter": "customerProfile/address/country eq 'US'"})
    assert ids(country) == {mine["id"]}
    _, desc = await _list(http, em, headers, **{"$orderby": "createdDateTime desc"})
    created = [r["createdDateTime"] for r in desc["value"]]
    assert created == sorted(created, reverse=True) and len(created) == 4
    _, selected = await _list(http, em, headers, **{"$select": "id,status", "$filter": "status eq 'New'"})
    assert all(set(r) == {"id", "status"} for r in selected["value"])


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"$filter": "colour eq 'red'"}, "colour"),
        ({"$filter": "status eq"}, "end of $filter"),
        ({"$filter": "status like 'New'"}, "operator"),
        ({"$filter": "status eq 'New' or"}, "end of $filter"),
        ({"$filter": "(status eq 'New'"}, "end of $filter"),
        ({"$filter": "status eq 'New' ;drop"}, "Syntax error"),
        ({"$top": "0"}, "$top"),
        ({"$top": "many"}, "$top"),
        ({"$orderby": "name asc"}, "$orderby"),
        ({"$skip": "10"}, "$skip"),
    ],
)
async def test_list_rejects_bad_query(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession, params: dict[str, str], needle: str
) -> None:
    status, body = await _list(http, microsoft_emulator, await authed(http, microsoft_emulator), **params)
    assert status == 400 and body["code"] == "InvalidQuery" and needle in body["message"]


async def test_paging_through_1000_referrals(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    for i in range(1000):
        em.add_incoming_referral({"name": f"r{i}", "status": "New" if i % 4 else "Active", "substatus": None})
    headers = await authed(http, em)
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        page_headers = {**headers, **({"continuationToken": token} if token else {})}
        status, body = await _list(http, em, page_headers, **{"$top": "100"})
        assert status == 200
        pages += 1
        assert body["totalCount"] == 1000 and len(body["value"]) == 100
        seen.extend(r["id"] for r in body["value"])
        token = body.get("continuationToken")
        if token is None:
            break
    assert pages == 10 and len(seen) == len(set(seen)) == 1000
    # A filtered listing pages too, and a token only works for the query that produced it.
    status, first = await _list(http, em, headers, **{"$top": "200", "$filter": "status eq 'New'"})
    assert first["totalCount"] == 750 and "continuationToken" in first
    tok = first["continuationToken"]
    status, second = await _list(
        http, em, {**headers, "continuationToken": tok}, **{"$top": "200", "$filter": "status eq 'New'"}
    )
    assert status == 200 and len(second["value"]) == 200
    assert not {r["id"] for r in first["value"]} & {r["id"] for r in second["value"]}
    status, wrong = await _list(http, em, {**headers, "continuationToken": tok}, **{"$top": "100"})
    assert status == 400 and wrong["code"] == "InvalidContinuationToken"
    status, garbage = await _list(http, em, {**headers, "continuationToken": "!!!"})
    assert status == 400 and garbage["code"] == "InvalidContinuationToken"


# -- operator API --------------------------------------------------------------------------------


async def test_operator_api(microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession) -> None:
    em = microsoft_emulator
    base = em.base_url
    body = {
        "name": "From Microsoft",
        "externalReferenceId": "ignored",
        "customerProfile": {"name": "Fabrikam"},
    }
    async with http.post(f"{base}/_sandbox/referrals", json=body) as resp:
        assert resp.status == 201
        incoming = await resp.json()
    assert (incoming["status"], incoming["substatus"], incoming["direction"]) == (
        "New",
        "Pending",
        "Incoming",
    )
    assert "externalReferenceId" not in incoming and incoming["customerProfile"]["name"] == "Fabrikam"
    await asyncio.sleep(0.002)
    change = {"status": "Closed", "substatus": "Lost", "statusReason": "Customer chose another vendor"}
    async with http.post(f"{base}/_sandbox/referrals/{incoming['id']}", json=change) as resp:
        assert resp.status == 200
        changed = await resp.json()
    assert changed["eTag"] != incoming["eTag"] and changed["updatedDateTime"] > incoming["updatedDateTime"]
    assert changed["substatus"] == "Lost"
    async with http.post(
        f"{base}/_sandbox/referrals/{incoming['id']}", json={"substatus": "Pending"}
    ) as resp:
        assert resp.status == 400 and "substatus" in (await resp.json())["message"]
    async with http.post(f"{base}/_sandbox/referrals", json={"bogus": 1}) as resp:
        assert resp.status == 400 and "bogus" in (await resp.json())["message"]
    async with http.post(f"{base}/_sandbox/referrals/nope", json={}) as resp:
        assert resp.status == 404
    async with http.get(f"{base}/_sandbox/referrals") as resp:
        assert [r["id"] for r in (await resp.json())["value"]] == [incoming["id"]]
    headers = await authed(http, em)
    await _list(http, em, headers)
    async with http.get(f"{base}/_sandbox/calls") as resp:
        calls = await resp.json()
    assert calls[f"GET {API}"] == 1
    async with http.post(f"{base}/_sandbox/reset") as resp:
        assert resp.status == 200
    assert em.referrals() == {} and em.tokens_issued == 0
    async with http.get(base + API, headers=headers) as resp:
        assert resp.status == 401  # reset forgets issued tokens too


async def test_garbage_never_causes_a_500(
    microsoft_emulator: MicrosoftEmulator, http: aiohttp.ClientSession
) -> None:
    em = microsoft_emulator
    headers = await authed(http, em)
    created = await _create(http, em, headers)
    url = f"{em.base_url}{API}/{created['id']}"
    junk: list[Any] = [None, 0, "x", [], {}, [1, 2], {"details": []}, {"team": [1]}, {"customerProfile": "x"}]
    for body in junk:
        async with http.post(em.base_url + API, json=body, headers=headers) as resp:
            assert 400 <= resp.status < 500, body
        async with http.patch(url, json=body, headers={**headers, "If-Match": "*"}) as resp:
            assert resp.status < 500, body
        async with http.post(f"{em.base_url}/_sandbox/referrals", json=body) as resp:
            assert resp.status < 500, body
    for junk_filter in [
        "'",
        "()",
        "and",
        "status eq 'a''b'",
        "not status eq 'New'",
        "x/y eq 1",
        "name eq null",
    ]:
        async with http.get(em.base_url + API, params={"$filter": junk_filter}, headers=headers) as resp:
            assert resp.status < 500, junk_filter
