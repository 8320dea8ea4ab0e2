"""What the ``microsoft`` connector brings besides its handlers: its notice kinds, the Partner Center referrals
emulator for the sandbox, and its part in ``cosync demo`` (its deal, and a referral sent through the emulator's
operator API). Registered with the connector (``plugin.py`` exposes these hooks)."""

from __future__ import annotations

from typing import Any

from cosync_worker.hooks import DemoAction, DemoCloudSpec, DemoDeal, EmulatorSpec, NoticeKindSpec, hookimpl

__all__ = ["REFERRAL", "cosync_demo", "cosync_emulators", "cosync_notice_kinds"]

EMULATOR = "microsoft"

REFERRAL: dict[str, Any] = {
    "name": "Wayne Enterprises Security Modernisation",
    "customerProfile": {
        "name": "Wayne Enterprises",
        "address": {"country": "US", "city": "Gotham"},
        "team": [{"firstName": "Lucius", "lastName": "Fox", "email": "lucius@wayne.example"}],
    },
    "details": {"dealValue": 300000, "currency": "USD", "notes": "Inbound from Microsoft seller"},
}


def _emulator(host: str, time_scale: float) -> Any:
    from cosync_worker.sandbox.clouds import MicrosoftEmulator

    return MicrosoftEmulator(host=host)


def _connection(emulator: Any) -> dict[str, Any]:
    return {
        "base_url": emulator.base_url,
        "token_url": emulator.token_url,
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "tenant_id": emulator.tenant_id,
        "refresh_token": emulator.refresh_token,
    }


async def _refer(stack: Any, http: Any) -> None:
    async with http.post(f"{stack.emulators[EMULATOR].base_url}/_sandbox/referrals", json=REFERRAL) as r:
        r.raise_for_status()


DEMO = DemoCloudSpec(
    connector="microsoft",
    label="Microsoft",
    deal_tag="#Microsoft",
    id_property="microsoft_referral_id",
    status_property="microsoft_sync_status",
    deal=DemoDeal(
        "Initech Copilot Rollout",
        "90000",
        "qualifiedtobuy",
        {
            "name": "Initech",
            "domain": "initech.example",
            "website": "https://initech.example",
            "industry": "INFORMATION_TECHNOLOGY_AND_SERVICES",
            "country": "US",
            "city": "Dallas",
            "state": "TX",
            "zip": "75201",
        },
        {
            "firstname": "Peter",
            "lastname": "Gibbons",
            "email": "peter@initech.example",
            "jobtitle": "IT Director",
        },
        edits={"dealstage": "presentationscheduled"},
    ),
    incoming=(
        DemoAction(
            "Microsoft sends a referral",
            _refer,
            lands_as=str(REFERRAL["name"]),
            result="Microsoft referral -> HubSpot deal",
        ),
    ),
)


@hookimpl
def cosync_notice_kinds() -> list[NoticeKindSpec]:
    return [NoticeKindSpec("microsoft", "Microsoft")]


@hookimpl
def cosync_emulators() -> list[EmulatorSpec]:
    return [EmulatorSpec(EMULATOR, _emulator, _connection, description="Partner Center referrals API")]


@hookimpl
def cosync_demo() -> DemoCloudSpec:
    return DEMO
