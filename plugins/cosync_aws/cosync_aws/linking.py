"""The AWS connector's part in ``cosync link`` / ``cosync backfill`` (hook ``cosync_linkers``, registered in
``declarations.py``).

Exact key: cosync creates every opportunity with ``PartnerOpportunityIdentifier`` ``hubspot-deal-<deal id>``
(``mapping.create_request``). Candidates compare ``Customer.Account.CompanyName``/``WebsiteUrl`` and
``LifeCycle.TargetCloseDate`` of ``ListOpportunities``' summaries (the summary has no title:
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_ListOpportunities.html). A link writes
``aws_opportunity_id`` to the deal and lets the connector's creation flow adopt it (state recorded, no call
to Partner Central); a creation is that same flow, idempotent by its ``ClientToken``. Every call goes through
the plugin's ``PartnerCentralClient``, so creations draw from the shared write budget (1/s, 10,000/24 h).
"""

from __future__ import annotations

from typing import Any

from cosync_worker.hooks import Context, LinkerSpec, Party, RemoteRecord, WriteQuota

from .mapping import has_tag, hubspot_view
from .solutions import choose_solutions

__all__ = ["IDENTIFIER_PREFIX", "aws_linker", "remote_record"]

IDENTIFIER_PREFIX = "hubspot-deal-"
ID_PROPERTY = "aws_opportunity_id"
CLOSED_STAGES = frozenset({"Closed Lost", "Launched"})
# What the solution matcher reads of a deal and of its company.
_SOLUTION_INPUTS = ("aws_use_case", "aws_solution_ids", "description")
_COMPANY_INPUTS = ("industry",)


def remote_record(summary: dict[str, Any]) -> RemoteRecord:
    account = (summary.get("Customer") or {}).get("Account") or {}
    life = summary.get("LifeCycle") or {}
    identifier = str(summary.get("PartnerOpportunityIdentifier") or "")
    named = identifier.removeprefix(IDENTIFIER_PREFIX) if identifier.startswith(IDENTIFIER_PREFIX) else ""
    company = str(account.get("CompanyName") or "")
    return RemoteRecord(
        remote_id=str(summary["Id"]),
        party=Party(
            company=company,
            domain=str(account.get("WebsiteUrl") or ""),
            close_date=str(life.get("TargetCloseDate") or "")[:10],
        ),
        deal_id=named if named.isdigit() else None,
        label=company,
        raw=summary,
        open=life.get("Stage") not in CLOSED_STAGES,
    )


def differences(props: Any, record: RemoteRecord) -> dict[str, tuple[Any, Any]]:
    remote = record.party.close_date
    deal = str(props.get("closedate") or "")[:10]
    return {"closedate": (deal, remote)} if remote and deal != remote else {}


def aws_linker(context: Context) -> LinkerSpec | None:
    from . import outbound
    from .plugin import NAME, SERVICE, deps_of

    if SERVICE not in context.services:
        return None  # installed but not configured
    deps = deps_of(context)
    config = deps.config
    solutions: list[dict[str, Any]] = []

    async def list_remote() -> list[RemoteRecord]:
        summaries = await deps.pc.paginate("ListOpportunities", "OpportunitySummaries", MaxResults=100)
        if deps.solutions is not None:
            solutions[:] = await deps.solutions.all()  # for the plan's cost of each creation
        return [remote_record(s) for s in summaries]

    def creation_writes(props: Any, company: Any) -> int:
        # CreateOpportunity, then one AssociateOpportunity per solution the creation flow would choose.
        return 1 + len(choose_solutions(solutions, dict(props), dict(company), config))

    async def link(deal_id: str, props: Any, record: RemoteRecord | None) -> None:
        if record is not None and props.get(ID_PROPERTY) != record.remote_id:
            await deps.hs.update(
                "deals", deal_id, {ID_PROPERTY: record.remote_id, "aws_sync_status": "synced"}
            )
        # With the id on the deal, the creation flow records it (under the deal's lock) and calls nothing.
        await outbound.ensure_opportunity(deps, deal_id)

    async def create_remote(deal_id: str) -> str | None:
        return await outbound.ensure_opportunity(deps, deal_id)

    def deal_from_remote(record: RemoteRecord) -> dict[str, str]:
        name = record.party.company or f"Partner Central {record.remote_id}"
        return {
            "dealname": f"{name} {config.deal_tag}",
            ID_PROPERTY: record.remote_id,
            "aws_sync_status": "synced",
            **hubspot_view(dict(record.raw), config),
        }

    return LinkerSpec(
        connector=NAME,
        id_property=ID_PROPERTY,
        tagged=lambda props: has_tag(props.get("dealname"), config.deal_tag),
        link=link,
        list_remote=list_remote,
        create_remote=create_remote,
        deal_from_remote=deal_from_remote,
        differences=differences,
        deal_properties=_SOLUTION_INPUTS,
        company_properties=_COMPANY_INPUTS,
        quota=WriteQuota(
            config.write_rate_per_second, config.daily_write_cap, creation_writes=creation_writes
        ),
        label="AWS Partner Central opportunities",
    )
