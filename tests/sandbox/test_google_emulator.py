"""The Google Cloud CRM Partners emulator, driven over real loopback HTTP (and by google-auth)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.microsoft import throttle as throttle_module
from cosync_worker.sandbox.microsoft import tokens as tokens_module
from cosync_worker.testing.clock import drive_time
from cosync_worker.testing.waiting import wait_until

SCOPE = "https://www.googleapis.com/auth/cloudcrmpartners"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TIMEOUT = aiohttp.ClientTimeout(total=20)


def valid_lead(**overrides: Any) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "engagementModel": "ENGAGEMENT_MODEL_PARTNER_LED",
        "dealTransactionType": "DEAL_TRANSACTION_TYPE_NEW",
        "customer": {"company": "Acme Corp", "googleAccountDomain": "acme.test", "totalEmployees": 250},
        "partnerAnnualContractValue": 120000.5,
        "leadCurrencyCode": "USD",
        "estimatedCloseDate": {"year": 2030, "month": 6, "day": 30},
        "dealTerm": "12",
        "opportunitySummary": "Migrate the data warehouse",
        "supportLevel": "SUPPORT_LEVEL_STANDARD",
        "productInterests": ["PRODUCT_FAMILY_GCP"],
        "externalSystemId": "hs-deal-9",
        "title": "Acme migration",
    }
    lead.update(overrides)
    return lead


def fake_jwt(claims: dict[str, Any], alg: str = "RS256") -> str:
    def enc(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{enc({'alg': alg, 'typ': 'JWT'})}.{enc(claims)}.c2ln"


def claims_for(em: GoogleEmulator, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "sync@p.iam.gserviceaccount.com",
        "aud": em.token_url,
        "scope": SCOPE,
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return claims


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        yield session


async def token_for(http: aiohttp.ClientSession, em: GoogleEmulator) -> dict[str, str]:
    form = {"grant_type": JWT_BEARER, "assertion": fake_jwt(claims_for(em))}
    async with http.post(em.token_url, data=form) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return {"Authorization": f"Bearer {body['access_token']}"}


def leads_url(em: GoogleEmulator, partner: str | None = None) -> str:
    return f"{em.base_url}/v1/partners/{partner or em.partner_id}/leads"


def short(name: str) -> str:
    return name.rsplit("/", 1)[1]


async def create_lead(
    http: aiohttp.ClientSession, em: GoogleEmulator, headers: dict[str, str]
) -> dict[str, Any]:
    async with http.post(leads_url(em), json=valid_lead(), headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


# -- token endpoint ------------------------------------------------------------------------------


async def test_google_auth_service_account_refreshes_against_the_emulator(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    pytest.importorskip("google.auth")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    em = google_emulator
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "sandbox",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "sync@sandbox.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": em.token_url,
    }
    creds = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    await asyncio.to_thread(creds.refresh, Request())
    assert creds.token and creds.valid and em.tokens_issued == 1
    async with http.get(f"{leads_url(em)}/nope", headers={"Authorization": f"Bearer {creds.token}"}) as resp:
        assert resp.status == 404  # authenticated; the lead just does not exist


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (
            lambda em: {"grant_type": "client_credentials", "assertion": fake_jwt(claims_for(em))},
            "unsupported_grant_type",
        ),
        (lambda em: {"grant_type": JWT_BEARER, "assertion": "not-a-jwt"}, "invalid_grant"),
        (lambda em: {"grant_type": JWT_BEARER, "assertion": "a.b.c"}, "invalid_grant"),
        (
            lambda em: {"grant_type": JWT_BEARER, "assertion": fake_jwt(claims_for(em), alg="none")},
            "invalid_grant",
        ),
        (
            lambda em: {
                "grant_type": JWT_BEARER,
                "assertion": fake_jwt(claims_for(em, scope="https://www.googleapis.com/auth/drive")),
            },
            "invalid_scope",
        ),
        (
            lambda em: {
                "grant_type": JWT_BEARER,
                "assertion": fake_jwt(claims_for(em, aud="https://elsewhere/token")),
            },
            "invalid_grant",
        ),
        (
            lambda em: {
                "grant_type": JWT_BEARER,
                "assertion": fake_jwt(claims_for(em, exp=int(time.time()) - 10)),
            },
            "invalid_grant",
        ),
        (
            lambda em: {"grant_type": JWT_BEARER, "assertion": fake_jwt(claims_for(em, iss=""))},
            "invalid_grant",
        ),
        (
            lambda em: {"grant_type": JWT_BEARER, "assertion": fake_jwt(claims_for(em, iat="now"))},
            "invalid_grant",
        ),
    ],
)
async def test_token_endpoint_refusals(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession, mutate: Any, error: str
) -> None:
    async with http.post(google_emulator.token_url, data=mutate(google_emulator)) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert body["error"] == error and body["error_description"]
    assert google_emulator.tokens_issued == 0


async def test_token_endpoint_wants_a_form(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    async with http.post(google_emulator.token_url, json={"grant_type": JWT_BEARER}) as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


# -- auth, expiry, throttling --------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Token abc", "Bearer not-issued"])
async def test_api_requires_a_valid_bearer(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    async with http.post(leads_url(google_emulator), json=valid_lead(), headers=headers) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body["error"]["status"] == "UNAUTHENTICATED" and body["error"]["code"] == 401
    assert google_emulator.leads() == {}


async def test_expired_token_and_wrong_partner(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = drive_time(monkeypatch, tokens_module)
    async with GoogleEmulator(token_lifetime_seconds=0.3) as em:
        assert isinstance(em, GoogleEmulator)
        headers = await token_for(http, em)
        async with http.get(f"{leads_url(em, 'someone-else')}/x", headers=headers) as resp:
            assert resp.status == 403 and (await resp.json())["error"]["status"] == "PERMISSION_DENIED"
        async with http.get(f"{leads_url(em)}/x", headers=headers) as resp:
            assert resp.status == 404 and (await resp.json())["error"]["status"] == "NOT_FOUND"
        clock.advance(0.3)
        async with http.get(f"{leads_url(em)}/x", headers=headers) as resp:
            assert resp.status == 401 and "expired" in (await resp.json())["error"]["message"]


async def test_throttling_answers_429_with_retry_after(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = drive_time(monkeypatch, throttle_module)  # the three calls land in one second, however slow
    async with GoogleEmulator(rate_per_second=2) as em:
        assert isinstance(em, GoogleEmulator)
        headers = await token_for(http, em)
        statuses = []
        for _ in range(3):
            async with http.get(f"{leads_url(em)}/x", headers=headers) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    assert int(resp.headers["Retry-After"]) >= 1
                    assert (await resp.json())["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert statuses == [404, 404, 429]
        clock.advance(1.0)
        async with http.get(f"{leads_url(em)}/x", headers=headers) as resp:
            assert resp.status == 404


# -- leads and the linked opportunity ------------------------------------------------------------


async def test_create_lead_links_an_opportunity(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    em = google_emulator
    headers = await token_for(http, em)
    lead = await create_lead(http, em, headers)
    assert lead["name"].startswith(f"partners/{em.partner_id}/leads/") and lead["createDate"]["year"] >= 2024
    assert lead["externalSystemId"] == "hs-deal-9"
    async with http.get(f"{leads_url(em)}/{short(lead['name'])}", headers=headers) as resp:
        assert resp.status == 200 and await resp.json() == lead
    opp_name = em.opportunity_for_lead(lead["name"])
    assert opp_name is not None
    async with http.get(f"{em.base_url}/v1/{opp_name}", headers=headers) as resp:
        assert resp.status == 200
        opp = await resp.json()
    assert opp["lead"] == lead["name"] and opp["dealSize"] == 120000.5 and opp["dealCurrencyCode"] == "USD"
    assert opp["closeDate"] == {"year": 2030, "month": 6, "day": 30}
    assert opp["customer"]["company"] == "Acme Corp" and opp["productFamily"] == "PRODUCT_FAMILY_GCP"
    async with http.get(f"{em.base_url}/_sandbox/leads/{short(lead['name'])}") as resp:
        linked = await resp.json()
    assert linked["opportunity"] == opp_name and linked["lead"] == lead
    async with http.get(
        f"{em.base_url}/v1/partners/{em.partner_id}/opportunities/nope", headers=headers
    ) as resp:
        assert resp.status == 404 and (await resp.json())["error"]["status"] == "NOT_FOUND"


async def test_opportunity_appears_after_link_delay(http: aiohttp.ClientSession) -> None:
    # The link is an event-loop timer, which a test cannot move: the delay is long enough that the checks
    # before it cannot be outrun by a stalled loop, and its arrival is awaited (bounded), not slept for.
    async with GoogleEmulator(link_delay_seconds=1.0) as em:
        assert isinstance(em, GoogleEmulator)
        lead = await create_lead(http, em, await token_for(http, em))
        assert em.opportunity_for_lead(lead["name"]) is None
        sandbox_opps = f"{em.base_url}/_sandbox/opportunities"
        async with http.get(sandbox_opps, params={"lead": lead["name"]}) as resp:
            assert (await resp.json())["opportunities"] == []

        async def linked() -> bool:
            return em.opportunity_for_lead(lead["name"]) is not None

        await wait_until(linked, timeout=30)
        async with http.get(sandbox_opps, params={"lead": lead["name"]}) as resp:
            opps = (await resp.json())["opportunities"]
        assert len(opps) == 1 and opps[0]["lead"] == lead["name"] and opps[0]["updateTime"]


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        (valid_lead(colour="red"), "lead.colour", 'Unknown name "colour"'),
        (valid_lead(customer={"company": "A", "shoeSize": 9}), "lead.customer.shoeSize", "Unknown name"),
        (valid_lead(partnerAnnualContractValue="lots"), "lead.partnerAnnualContractValue", "Invalid value"),
        (
            valid_lead(customer={"company": "A", "totalEmployees": "many"}),
            "lead.customer.totalEmployees",
            "Invalid value",
        ),
        (
            valid_lead(estimatedCloseDate={"year": 2030, "month": 13, "day": 1}),
            "lead.estimatedCloseDate",
            "Date",
        ),
        (
            valid_lead(estimatedCloseDate={"year": 2030, "hour": 1}),
            "lead.estimatedCloseDate.hour",
            "Unknown name",
        ),
        (valid_lead(engagementModel="partner led"), "lead.engagementModel", "Invalid value"),
        (valid_lead(productInterests="PRODUCT_FAMILY_GCP"), "lead.productInterests", "Invalid value"),
        (valid_lead(isConfidential="yes"), "lead.isConfidential", "Invalid value"),
        (
            {k: v for k, v in valid_lead().items() if k != "opportunitySummary"},
            "lead.opportunitySummary",
            "required",
        ),
        ({k: v for k, v in valid_lead().items() if k != "customer"}, "lead.customer", "required"),
        ([valid_lead()], "lead", "Expected an object"),
    ],
)
async def test_create_lead_rejects_bad_input(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession, body: Any, field: str, needle: str
) -> None:
    em = google_emulator
    async with http.post(leads_url(em), json=body, headers=await token_for(http, em)) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["status"] == "INVALID_ARGUMENT" and needle in error["message"]
    assert error["details"][0]["fieldViolations"][0]["field"] == field
    assert em.leads() == {} and em.opportunities() == {}


async def test_create_lead_rejects_malformed_json(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    em = google_emulator
    headers = {**(await token_for(http, em)), "Content-Type": "application/json"}
    async with http.post(leads_url(em), data=b"{oops", headers=headers) as resp:
        assert resp.status == 400 and "Invalid JSON payload" in (await resp.json())["error"]["message"]


# -- opportunities.patch -------------------------------------------------------------------------


async def _opportunity(http: aiohttp.ClientSession, em: GoogleEmulator, headers: dict[str, str]) -> str:
    lead = await create_lead(http, em, headers)
    name = em.opportunity_for_lead(lead["name"])
    assert name is not None
    return f"{em.base_url}/v1/{name}"


async def test_patch_changes_only_masked_fields(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    em = google_emulator
    headers = await token_for(http, em)
    url = await _opportunity(http, em, headers)
    async with http.get(url, headers=headers) as resp:
        before = await resp.json()
    body = {"salesStage": "SALES_STAGE_PROPOSAL", "notes": "call Tuesday", "dealSize": 1.0, "nextSteps": "x"}
    async with http.patch(url, params={"updateMask": "salesStage,notes"}, json=body, headers=headers) as resp:
        assert resp.status == 200
        after = await resp.json()
    assert after["salesStage"] == "SALES_STAGE_PROPOSAL" and after["notes"] == "call Tuesday"
    assert after["dealSize"] == before["dealSize"] and "nextSteps" not in after
    assert {k: v for k, v in after.items() if k not in ("salesStage", "notes")} == before
    # snake_case mask paths work; a masked field missing from the body is cleared.
    async with http.patch(
        url, params={"updateMask": "next_steps,notes"}, json={"nextSteps": "send quote"}, headers=headers
    ) as resp:
        assert resp.status == 200
        cleared = await resp.json()
    assert cleared["nextSteps"] == "send quote" and "notes" not in cleared
    # No mask: every field present in the body is updated (AIP-134).
    async with http.patch(url, json={"termMonths": "24", "isConfidential": True}, headers=headers) as resp:
        whole = await resp.json()
    assert whole["termMonths"] == "24" and whole["isConfidential"] is True
    assert em.opportunities()[whole["name"]] == whole


@pytest.mark.parametrize(
    ("mask", "body", "field", "needle"),
    [
        ("salesStage,colour", {"salesStage": "SALES_STAGE_QUALIFY"}, "update_mask", "colour"),
        ("winProbability", {"winProbability": "90"}, "update_mask", "output only"),
        ("", {"notes": "x"}, "update_mask", "at least one"),
        ("notes", {"notes": 5}, "opportunity.notes", "Invalid value"),
        ("notes", {"notes": "x", "colour": "red"}, "opportunity.colour", "Unknown name"),
        ("closeDate", {"closeDate": {"year": 2030, "month": 2, "day": 40}}, "opportunity.closeDate", "Date"),
        ("termMonths", {"termMonths": "two years"}, "opportunity.termMonths", "Invalid value"),
        ("notes", {"name": "partners/x/opportunities/y", "notes": "x"}, "opportunity.name", "must be"),
    ],
)
async def test_patch_rejects_bad_input(
    google_emulator: GoogleEmulator,
    http: aiohttp.ClientSession,
    mask: str,
    body: dict[str, Any],
    field: str,
    needle: str,
) -> None:
    em = google_emulator
    headers = await token_for(http, em)
    url = await _opportunity(http, em, headers)
    before = dict(next(iter(em.opportunities().values())))
    async with http.patch(url, params={"updateMask": mask}, json=body, headers=headers) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["status"] == "INVALID_ARGUMENT" and needle in error["message"]
    assert error["details"][0]["fieldViolations"][0]["field"] == field
    assert next(iter(em.opportunities().values())) == before


async def test_patch_unknown_opportunity_is_404(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    em = google_emulator
    url = f"{em.base_url}/v1/partners/{em.partner_id}/opportunities/missing"
    async with http.patch(
        url, params={"updateMask": "notes"}, json={"notes": "x"}, headers=await token_for(http, em)
    ) as resp:
        assert resp.status == 404 and (await resp.json())["error"]["code"] == 404


# -- operator API --------------------------------------------------------------------------------


async def test_operator_changes_opportunity_as_google(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    em = google_emulator
    headers = await token_for(http, em)
    url = await _opportunity(http, em, headers)
    name = url.split("/v1/", 1)[1]
    async with http.get(f"{em.base_url}/_sandbox/opportunities") as resp:
        first_time = (await resp.json())["opportunities"][0]["updateTime"]
    await asyncio.sleep(0.002)
    change = {
        "salesStage": "SALES_STAGE_CLOSED_WON",
        "winProbability": "100",
        "owner": {"email": "rep@google.test"},
    }
    async with http.post(f"{em.base_url}/_sandbox/opportunities/{short(name)}", json=change) as resp:
        assert resp.status == 200
        changed = await resp.json()
    assert changed["updateTime"] > first_time and changed["winProbability"] == "100"
    async with http.get(url, headers=headers) as resp:
        seen = await resp.json()
    assert seen["salesStage"] == "SALES_STAGE_CLOSED_WON" and "updateTime" not in seen
    async with http.post(
        f"{em.base_url}/_sandbox/opportunities/{name}", json={"notes": "full name works"}
    ) as resp:
        assert resp.status == 200 and (await resp.json())["notes"] == "full name works"
    async with http.post(
        f"{em.base_url}/_sandbox/opportunities/{short(name)}", json={"lead": "other"}
    ) as resp:
        assert resp.status == 400
    async with http.post(f"{em.base_url}/_sandbox/opportunities/{short(name)}", json={"bogus": 1}) as resp:
        assert resp.status == 400
    async with http.post(f"{em.base_url}/_sandbox/opportunities/nope", json={}) as resp:
        assert resp.status == 404
    async with http.get(f"{em.base_url}/_sandbox/leads/nope") as resp:
        assert resp.status == 404
    async with http.get(f"{em.base_url}/_sandbox/calls") as resp:
        calls = await resp.json()
    assert calls["POST /v1/partners/{partner}/leads"] == 1
    assert calls["GET /v1/partners/{partner}/opportunities/{opportunity}"] == 1
    async with http.post(f"{em.base_url}/_sandbox/reset") as resp:
        assert resp.status == 200
    assert em.leads() == {} and em.opportunities() == {} and em.tokens_issued == 0


async def test_garbage_never_causes_a_500(
    google_emulator: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    em = google_emulator
    headers = await token_for(http, em)
    url = await _opportunity(http, em, headers)
    junk: list[Any] = [
        None,
        0,
        "x",
        [],
        {"customer": []},
        {"estimatedCloseDate": "2030-01-01"},
        {"productInterests": [1]},
    ]
    for body in junk:
        async with http.post(leads_url(em), json=body, headers=headers) as resp:
            assert resp.status == 400, body
        async with http.patch(url, params={"updateMask": "notes"}, json=body, headers=headers) as resp:
            assert resp.status < 500, body
        async with http.post(
            f"{em.base_url}/_sandbox/opportunities/{url.rsplit('/', 1)[1]}", json=body
        ) as resp:
            assert resp.status < 500, body
    for form in ({}, {"grant_type": JWT_BEARER}, {"grant_type": JWT_BEARER, "assertion": "..."}):
        async with http.post(em.token_url, data=form) as resp:
            assert resp.status == 400, form
