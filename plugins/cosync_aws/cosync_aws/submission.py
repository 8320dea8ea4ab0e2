"""Flow 6: submit an opportunity to AWS for review (``POST /submit-opportunity``, a stage rule, or pending
for more than N days), after checking that what AWS's review requires is there.

Why ``StartEngagementFromOpportunityTask`` and not ``SubmitOpportunity``: the task is one write that runs
GetOpportunity, CreateEngagement, CreateResourceSnapshot(Job), CreateEngagementInvitation and SubmitOpportunity
together ("orchestrates a comprehensive workflow ... into a single task",
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_StartEngagementFromOpportunityTask.html),
so the opportunity is also shared as an engagement; ``SubmitOpportunity`` alone would leave that to more
writes from the 1/s budget.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from cosync_worker.errors import Retry
from cosync_worker.logs import get_logger

from . import audit, pushes
from .client import PartnerCentralError, Priority
from .deal_jobs import run_deal_job
from .deps import Deps
from .hubspot_side import add_note
from .mapping import client_token
from .state import DealState, setting

__all__ = ["SUBMISSION_REQUIRED", "submission_missing", "submit_deal", "submit_job", "submit_pending"]

# What a job reports for each outcome of :func:`submit_deal` that is not a success.
_JOB_ERRORS = {
    "missing": "the opportunity lacks what AWS's review requires (the deal's aws_sync_error lists it)",
    "failed": "AWS refused the submission (the deal's aws_sync_error says why)",
    "no-opportunity": "the deal has no AWS opportunity yet",
}

log = get_logger("cosync.aws")

# What AWS's review requires (validation on submission), with the HubSpot field a rep fills in.
SUBMISSION_REQUIRED = (
    ("Customer.Account.CompanyName", "company name"),
    ("Customer.Account.Address.CountryCode", "company country"),
    ("Customer.Account.WebsiteUrl", "company domain or website"),
    ("Customer.Account.Industry", "company industry"),
    ("Project.Title", "dealname"),
    ("Project.CustomerBusinessProblem", "description"),
    ("LifeCycle.TargetCloseDate", "closedate"),
)


def submission_missing(record: dict[str, Any]) -> list[str]:
    """Pure: what the opportunity lacks for submission, as ``"<hubspot field> (<Partner Central path>)"``."""
    missing = []
    for path, label in SUBMISSION_REQUIRED:
        node: Any = record
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not node:
            missing.append(f"{label} ({path})")
    return missing


async def _wait_task(deps: Deps, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + deps.config.task_timeout_seconds
    while True:
        page = await deps.pc.call(
            "ListEngagementFromOpportunityTasks", Priority.CREATE, TaskIdentifier=[task_id]
        )
        task = (page.get("TaskSummaries") or [{}])[0]
        if task.get("TaskStatus") in ("COMPLETE", "FAILED"):
            return task
        if time.monotonic() > deadline:
            raise Retry(f"submission task {task_id} is still running", defer=10)
        await asyncio.sleep(deps.config.task_poll_seconds)


def _mark_submitting(state: DealState) -> DealState:
    state.submitting = time.time()  # a time, so a submission abandoned by a crash stops counting
    state.hubspot = {**state.hubspot, "aws_review_status": "Submitted"}
    return state


def _end_submitting(state: DealState) -> DealState:
    state.submitting = state.submit_task_id = None
    return state


async def submit_deal(
    deps: Deps, deal_id: str, involvement_type: str | None = None, visibility: str | None = None
) -> str:
    """Returns ``"submitted"``, ``"already"``, ``"missing"``, ``"failed"`` or ``"no-opportunity"``.

    ``involvement_type``/``visibility`` (``POST /submit-opportunity``) override the configured ones."""
    state = (await deps.deals.read(deal_id)).value
    opp_id = state.opportunity_id
    if not opp_id:
        return "no-opportunity"
    current = await deps.pc.call("GetOpportunity", Priority.CREATE, Identifier=opp_id)
    status = (current.get("LifeCycle") or {}).get("ReviewStatus")
    if status not in ("Pending Submission", "Action Required") and not state.submit_task_id:
        return "already"
    missing = submission_missing(current)
    if missing:
        message = "Cannot submit to AWS; missing: " + "; ".join(missing)
        # Acked, not raised: retrying cannot fill the fields in. The pending-days rule meets the same deal
        # every run, so the deal and its timeline hear about one gap once, not every hour.
        if state.submit_error != message:
            await pushes.update_deal(deps, deal_id, {"aws_sync_status": "error", "aws_sync_error": message})
            await add_note(deps.hs, deal_id, message)
            await deps.deals.update(deal_id, setting(submit_error=message))
        log.info("aws_submission_incomplete", deal_id=deal_id, missing=missing)
        return "missing"
    rules = deps.config.submission.model_copy(
        update={
            k: v for k, v in {"involvement_type": involvement_type, "visibility": visibility}.items() if v
        }
    )
    task_id = state.submit_task_id
    if not task_id:
        # Saved first: the "Opportunity Updated" events of the submission are then recognised as ours (the
        # reverse sync leaves the review status to this flow while ``submitting``), so the deal gets one note
        # (below), not a second "AWS changed the review status" one.
        await deps.deals.update(deal_id, _mark_submitting)
        try:
            task = await deps.pc.call(
                "StartEngagementFromOpportunityTask",
                Priority.CREATE,
                ClientToken=client_token("submit", str(opp_id)),
                Identifier=opp_id,
                AwsSubmission={"InvolvementType": rules.involvement_type, "Visibility": rules.visibility},
            )
        except PartnerCentralError as exc:
            await deps.deals.update(deal_id, _end_submitting)
            if exc.code == "ValidationException":
                await pushes.update_deal(
                    deps, deal_id, {"aws_sync_status": "error", "aws_sync_error": exc.message[:1000]}
                )
                return "failed"
            raise
        except Retry:
            await deps.deals.update(deal_id, _end_submitting)  # throttled or unreachable: not under way
            raise
        task_id = str(task["TaskId"])
        await deps.deals.update(deal_id, setting(submit_task_id=task_id))
    done = await _wait_task(deps, str(task_id))
    if done.get("TaskStatus") == "FAILED":
        message = f"AWS submission failed: {done.get('ReasonCode')}: {done.get('Message')}"
        await deps.deals.update(deal_id, _end_submitting)
        await pushes.update_deal(
            deps, deal_id, {"aws_sync_status": "error", "aws_sync_error": message[:1000]}
        )
        await add_note(deps.hs, deal_id, message)
        return "failed"
    props = {
        "aws_submission_date": datetime.now(UTC).date().isoformat(),
        "aws_involvement_type": rules.involvement_type,
        "aws_visibility": rules.visibility,
        "aws_review_status": "Submitted",
        "aws_sync_status": "synced",
        "aws_sync_error": "",
    }
    await pushes.update_deal(deps, deal_id, props)

    def finished(st: DealState) -> DealState:
        st = _end_submitting(st)
        st.submit_error, st.submitted = None, True
        st.hubspot = {**st.hubspot, "aws_review_status": "Submitted"}
        return st

    await deps.deals.update(deal_id, finished)
    await audit.record(
        deps.store,
        str(opp_id),
        "submit_opportunity",
        audit.SYSTEM_PC,
        deal_id,
        [
            "GetOpportunity",
            "StartEngagementFromOpportunityTask",
            "ListEngagementFromOpportunityTasks",
            "hubspot.deals.update",
        ],
        involvement_type=rules.involvement_type,
        visibility=rules.visibility,
    )
    await add_note(
        deps.hs,
        deal_id,
        f"Submitted to AWS for review ({rules.involvement_type}, visibility {rules.visibility}); "
        f"opportunity {opp_id}.",
    )
    log.info("aws_submitted", deal_id=deal_id, opportunity_id=opp_id)
    return "submitted"


async def submit_job(deps: Deps, payload: dict[str, Any]) -> str:
    """``POST /submit-opportunity``'s job: run the submission with the call's overrides and report how it
    went at ``GET /jobs/{id}``. A ``Retry`` leaves the job running (the worker fails it if it dead-letters)."""
    return await run_deal_job(
        deps.store,
        payload,
        lambda deal_id: submit_deal(
            deps, deal_id, payload.get("involvement_type"), payload.get("visibility")
        ),
        _JOB_ERRORS,
    )


async def submit_pending(deps: Deps) -> list[str]:
    """The "pending for more than N days" rule: deals still ``Pending Submission`` created before the cut-off."""
    days = deps.config.submission.pending_days
    if days is None:
        return []
    cutoff_ms = int((time.time() - days * 86_400) * 1000)
    deals = await deps.hs.search_all(
        "deals",
        filter_groups=[
            {
                "filters": [
                    {"propertyName": "aws_review_status", "operator": "EQ", "value": "Pending Submission"},
                    {"propertyName": "createdate", "operator": "LT", "value": str(cutoff_ms)},
                ]
            }
        ],
        properties=["aws_opportunity_id"],
    )
    submitted = []
    for deal in deals:
        if await submit_deal(deps, str(deal["id"])) == "submitted":
            submitted.append(str(deal["id"]))
    return submitted
