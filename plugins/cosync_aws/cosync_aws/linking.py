"""The AWS connector's part in ``cosync link`` / ``cosync backfill`` (hook ``cosync_linkers``, registered in
``declarations.py``).

Exact key: cosync creates every opportunity with ``PartnerOpportunityIdentifier`` ``hubspot-deal-<deal id>``
(``mapping.create_request``). Candidates compare ``Customer.Account.CompanyName``/``WebsiteUrl`` and
``LifeCycle.TargetCloseDate`` of ``ListOpportunities``' summaries (the summary has no title:
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_ListOpportunities.html). A link writes
``aws_opportunity_id`` to the deal and lets the connector's creation flow adopt it (state recorded, no call
to Partner Central); a creation is that same flow, idempotent by its ``ClientToken``. Every call goes through
the plugin's ``PartnerCentralClient``, so creations draw from the shared write budget (1/s, 10,000/24 h).

A linked pair whose summary differs from the deal (stage, close date, amount: what a summary carries) is
reconciled as the connector settles a conflict: the last synced base of those fields is forgotten, so the
next push sees both sides changed and ``connectors.aws.conflicts`` picks the winner per field (HubSpot's
value sent, Partner Central's written to the deal, or a conflict left for a person).
"""

from __future__ import annotations

from typing import Any

from cosync_worker.hooks import Context, LinkerSpec, Party, RemoteRecord, WriteQuota

from . import pushes
from .config import AwsConfig
from .conflict_rules import CONFLICT_FIELDS, PATH_FIELDS, pc_display
from .mapping import has_tag, hubspot_view, owned_from_hubspot, owned_view
from .solutions import choose_solutions

__all__ = ["IDENTIFIER_PREFIX", "aws_linker", "remote_record"]

IDENTIFIER_PREFIX = "hubspot-deal-"
ID_PROPERTY = "aws_opportunity_id"
CLOSED_STAGES = frozenset({"Closed Lost", "Launched"})
# What the solution matcher reads of a deal and of its company.
_SOLUTION_INPUTS = ("aws_use_case", "aws_solution_ids", "description")
_COMPANY_INPUTS = ("industry",)
# What the compared fields are built from (``owned_from_hubspot``).
_COMPARED_INPUTS = ("dealstage", "deal_currency_code")
# The conflict fields an OpportunitySummary carries (its Project has no title nor business problem).
_SUMMARY_PATHS = ("LifeCycle.Stage", "LifeCycle.TargetCloseDate", "Project.ExpectedCustomerSpend")


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


def _same(path: str, ours: Any, theirs: Any) -> bool:
    left, right = pc_display(path, ours), pc_display(path, theirs)
    if path == "Project.ExpectedCustomerSpend":
        try:
            return float(left or 0) == float(right or 0)
        except ValueError:
            pass
    return bool(left == right)


def differences(props: Any, record: RemoteRecord, config: AwsConfig) -> dict[str, tuple[Any, Any]]:
    """The conflict fields the deal and the opportunity's summary both hold and disagree on."""
    ours = owned_from_hubspot(dict(props), None, [], config)
    theirs = owned_view(dict(record.raw), list(_SUMMARY_PATHS))
    return {
        PATH_FIELDS[path]: (props.get(PATH_FIELDS[path]), pc_display(path, theirs[path]))
        for path in _SUMMARY_PATHS
        if path in ours and path in theirs and not _same(path, ours[path], theirs[path])
    }


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
            await pushes.update_deal(
                deps, deal_id, {ID_PROPERTY: record.remote_id, "aws_sync_status": "synced"}
            )
        # With the id on the deal, the creation flow records it (under the deal's lock) and calls nothing.
        await outbound.ensure_opportunity(deps, deal_id)

    async def create_remote(deal_id: str) -> str | None:
        return await outbound.ensure_opportunity(deps, deal_id)

    async def reconcile(deal_id: str, props: Any, record: RemoteRecord | None) -> None:
        if record is None:
            return
        paths = {CONFLICT_FIELDS[prop] for prop in differences(props, record, config)}
        if not paths:
            return
        async with deps.deal_lock(deal_id):
            if (await deps.deals.read(deal_id)).value.opportunity_id != record.remote_id:
                return  # not linked to this opportunity (yet): nothing of the pair to settle
            await deps.deals.update(
                deal_id,
                lambda s: s.model_copy(
                    update={"owned": {p: v for p, v in s.owned.items() if p not in paths}}
                ),
            )
        await outbound.push_update(deps, deal_id)

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
        differences=lambda props, record: differences(props, record, config),
        reconcile=reconcile,
        deal_properties=(*_SOLUTION_INPUTS, *_COMPARED_INPUTS),
        company_properties=_COMPANY_INPUTS,
        quota=WriteQuota(
            config.write_rate_per_second, config.daily_write_cap, creation_writes=creation_writes
        ),
        label="AWS Partner Central opportunities",
    )
