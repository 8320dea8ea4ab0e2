"""What the ``gcp`` connector brings besides its handlers: its notice kinds (prefix ``google``), the Cloud CRM
Partners emulator for the sandbox, and its part in ``cosync demo``. Registered with the connector (``plugin.py``
exposes these hooks)."""

from __future__ import annotations

from typing import Any

from cosync_worker.hooks import DemoCloudSpec, DemoDeal, EmulatorSpec, NoticeKindSpec, hookimpl

__all__ = ["cosync_demo", "cosync_emulators", "cosync_notice_kinds"]

EMULATOR = "google"

DEMO = DemoCloudSpec(
    connector="gcp",
    label="Google",
    deal_tag="#GCP",
    id_property="gcp_opportunity_id",
    status_property="gcp_sync_status",
    deal=DemoDeal(
        "Globex Data Lake",
        "180000",
        "appointmentscheduled",
        {
            "name": "Globex",
            "domain": "globex.example",
            "website": "https://globex.example",
            "industry": "FINANCIAL_SERVICES",
            "country": "US",
            "city": "Austin",
            "state": "TX",
            "zip": "73301",
        },
        {"firstname": "Grace", "lastname": "Hopper", "email": "grace@globex.example", "jobtitle": "VP Data"},
        edits={"amount": "195000"},
    ),
)


def _emulator(host: str, time_scale: float) -> Any:
    from cosync_worker.sandbox.clouds import GoogleEmulator

    return GoogleEmulator(host=host)


def _connection(emulator: Any) -> dict[str, Any]:
    return {"base_url": emulator.base_url, "token_url": emulator.token_url}


@hookimpl
def cosync_notice_kinds() -> list[NoticeKindSpec]:
    return [NoticeKindSpec("google", "Google Cloud")]


@hookimpl
def cosync_emulators() -> list[EmulatorSpec]:
    return [EmulatorSpec(EMULATOR, _emulator, _connection, description="Cloud CRM Partners API")]


@hookimpl
def cosync_demo() -> DemoCloudSpec:
    return DEMO
