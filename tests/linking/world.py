"""A populated first-day world on the emulators: 300 HubSpot deals and what the clouds already hold.

Seeded straight into the emulators' state (not through their APIs), so every call counter starts at zero.

| deals    | tag                 | already remote                                                        |
| -------- | ------------------- | --------------------------------------------------------------------- |
| 0-39     | #AWS                | an opportunity naming the deal (``hubspot-deal-<id>``), not on the deal |
| 40-59    | #AWS                | an opportunity whose id the deal carries                              |
| 60-89    | #AWS                | entered by hand: "X Corporation, Inc." vs "X Corp", close date +5 days |
| 90-109   | #Microsoft #GCP     | a referral naming the deal; a Google lead named on the deal           |
| 110-149  | #AWS                | nothing                                                               |
| 150-169  | #GCP                | nothing                                                               |
| 170-184  | #Microsoft          | nothing                                                               |
| 185-299  | (none)              | nothing                                                               |

Plus 40 opportunities and 20 incoming referrals of customers no deal has.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from cosync_worker.hooks import PluginManager
from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.partnercentral.opportunities import new_opportunity
from cosync_worker.sandbox.stack import registered_emulators

DEALS = 300
EXACT_AWS = range(0, 40)
CARRIED_AWS = range(40, 60)
HAND_AWS = range(60, 90)
MS_AND_GCP = range(90, 110)
NEW_AWS = range(110, 150)
NEW_GCP = range(150, 170)
NEW_MS = range(170, 185)
ORPHAN_OPPORTUNITIES = 40
ORPHAN_REFERRALS = 20
CATALOG = "Sandbox"
_LETTERS = "bcdfghjklmnpqrstvwxz"
_VOWELS = "aeiou"


def company_name(n: int, kind: str = "deal") -> str:
    """A pronounceable name unlike every other one (no two customers look alike to the scorer)."""
    digest = hashlib.sha256(f"{kind}-{n}".encode()).digest()
    syllables = [_LETTERS[digest[i] % 20] + _VOWELS[digest[i + 1] % 5] for i in range(0, 8, 2)]
    return "".join(syllables).capitalize()


def _close(n: int) -> date:
    return date(2027, 1, 4) + timedelta(days=(n * 7) % 300)


def _tag(i: int) -> str:
    if i in MS_AND_GCP:
        return " #Microsoft #GCP"
    if i in NEW_GCP:
        return " #GCP"
    if i in NEW_MS:
        return " #Microsoft"
    if i in (*EXACT_AWS, *CARRIED_AWS, *HAND_AWS, *NEW_AWS):
        return " #AWS"
    return ""


def _opportunity(company: str, close: date, identifier: str | None, website: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Customer": {
            "Account": {
                "CompanyName": company,
                "WebsiteUrl": website,
                "Industry": "Software and Internet",
                "Address": {"CountryCode": "US"},
            }
        },
        "Project": {"Title": f"{company} migration", "CustomerBusinessProblem": "Moving the estate to AWS"},
        "LifeCycle": {"TargetCloseDate": close.isoformat(), "Stage": "Prospect"},
        "OpportunityType": "Net New Business",
    }
    if identifier:
        params["PartnerOpportunityIdentifier"] = identifier
    return params


@dataclass
class World:
    hs: HubSpotEmulator
    pc: PartnerCentralEmulator
    ms: MicrosoftEmulator
    google: GoogleEmulator
    deal_ids: list[str] = field(default_factory=list)

    def tagged(self, tag: str) -> list[str]:
        return [d for i, d in enumerate(self.deal_ids) if tag in _tag(i)]

    def deals(self) -> dict[str, dict[str, Any]]:
        return {k: v["properties"] for k, v in self.hs.objects("deals").items()}

    def opportunities(self) -> dict[str, dict[str, Any]]:
        return self.pc.opportunities(CATALOG)

    def duplicates(self) -> dict[str, list[str]]:
        """Every remote or HubSpot record that exists twice for one deal or one remote record."""
        deals = self.deals()
        counts: dict[str, Counter[str]] = {
            "opportunities by deal": Counter(
                str(o.get("PartnerOpportunityIdentifier"))
                for o in self.opportunities().values()
                if o.get("PartnerOpportunityIdentifier")
            ),
            "referrals by deal": Counter(
                str(r.get("externalReferenceId"))
                for r in self.ms.referrals().values()
                if r.get("externalReferenceId")
            ),
            "leads by deal": Counter(
                str(lead.get("externalSystemId"))
                for lead in self.google.leads().values()
                if lead.get("externalSystemId")
            ),
        }
        for prop in ("aws_opportunity_id", "microsoft_referral_id", "gcp_lead_name"):
            counts[f"deals by {prop}"] = Counter(str(p[prop]) for p in deals.values() if p.get(prop))
        # A hand-entered opportunity is the same deal as its HubSpot twin: two deals, or an opportunity
        # cosync created beside it, would both show up here.
        counts["opportunities by customer"] = Counter(
            (o.get("Customer") or {}).get("Account", {}).get("WebsiteUrl", "")
            for o in self.opportunities().values()
        )
        return {
            k: sorted(x for x, n in c.items() if n > 1)
            for k, c in counts.items()
            if any(n > 1 for n in c.values())
        }


def seed(
    hs: HubSpotEmulator, pc: PartnerCentralEmulator, ms: MicrosoftEmulator, google: GoogleEmulator
) -> World:
    world = World(hs, pc, ms, google)
    actor = hs.actors[hs.user_token]
    portal = hs.portal
    store = pc.catalog(CATALOG)
    for i in range(DEALS):
        company = company_name(i)
        website = f"https://www.{company.lower()}.example"
        deal = portal.create(
            "deals",
            {
                "dealname": f"{company} platform{_tag(i)}",
                "description": f"{company} needs its data platform moved to the cloud this year",
                "closedate": _close(i).isoformat(),
                "amount": str(10_000 + 100 * i),
                "dealstage": "appointmentscheduled",
                "pipeline": "default",
            },
            actor,
        )
        firm = portal.create(
            "companies",
            {
                "name": f"{company} Corp",
                "domain": f"{company.lower()}.example",
                "website": website,
                "country": "US",
            }
            | {"industry": "COMPUTER_SOFTWARE", "city": "Austin", "state": "TX", "zip": "73301"},
            actor,
        )
        portal.associate_default("deals", deal.id, "companies", firm.id)
        world.deal_ids.append(deal.id)
        if i in EXACT_AWS or i in CARRIED_AWS:
            record = new_opportunity(
                pc, store, _opportunity(f"{company} Corp", _close(i), f"hubspot-deal-{deal.id}", website)
            )
            if i in CARRIED_AWS:
                portal.update(deal, {"aws_opportunity_id": record["Id"]}, actor)
        elif i in HAND_AWS:
            hand = _opportunity(
                f"{company.upper()} Corporation, Inc.", _close(i) + timedelta(days=5), None, website
            )
            new_opportunity(pc, store, hand)
        elif i in MS_AND_GCP:
            referral = ms.add_incoming_referral(
                {"name": f"{company} platform", "customerProfile": {"name": f"{company} Corp", "team": []}}
            )
            referral.update(externalReferenceId=deal.id, direction="Outgoing")
            lead_name = f"partners/sandbox-partner/leads/seeded{i}"
            google.leads()[lead_name] = {"name": lead_name, "externalSystemId": f"hubspot-deal-{deal.id}"}
            portal.update(deal, {"gcp_lead_name": lead_name}, actor)
    for n in range(ORPHAN_OPPORTUNITIES):
        company = company_name(n, "orphan-opportunity")
        new_opportunity(
            pc,
            store,
            _opportunity(f"{company} Ltd", _close(n + 3), None, f"https://{company.lower()}.example"),
        )
    for n in range(ORPHAN_REFERRALS):
        company = company_name(n, "orphan-referral")
        ms.add_incoming_referral(
            {"name": f"{company} expansion", "customerProfile": {"name": f"{company} GmbH", "team": []}}
        )
    return world


def world_config(tmp_path: Path, world: World, time_scale: float) -> Path:
    """A config.yaml as ``cosync sandbox --write-config`` writes one, for these emulators, with room."""
    plugins = PluginManager().load(None)
    emulators: dict[str, Any] = {"partnercentral": world.pc, "google": world.google, "microsoft": world.ms}
    info: dict[str, Any] = {
        "hubspot": {
            "base_url": world.hs.base_url,
            "access_token": world.hs.access_token,
            "client_secret": world.hs.client_secret,
        }
    }
    info.update(
        {
            s.name: s.connection(emulators[s.name])
            for s in registered_emulators(plugins)
            if s.name in emulators
        }
    )
    connectors: dict[str, Any] = {}
    for section in plugins.hook.cosync_sandbox_config(sandbox=info):
        connectors.update(section or {})
    connectors.pop("example", None)
    # The client paces Partner Central's writes to the scaled quota, a little under it.
    connectors["aws"] |= {"write_rate_per_second": 0.9 * time_scale, "read_rate_per_second": 8 * time_scale}
    connectors["microsoft"]["required_customer_fields"] = ["name", "address.country"]
    data = {
        "queue": {"kind": "local", "path": str(tmp_path / "queue.db")},
        "store": {"kind": "sqlite", "path": str(tmp_path / "state.db")},
        "hubspot": info["hubspot"] | {"requests_per_10s": 100_000, "search_per_second": 10_000},
        "plugins": {"example": False},
        "connectors": connectors,
        "logging": {"level": "WARNING"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
