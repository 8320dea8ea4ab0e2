"""The jobs the REST routes queue on one deal (``POST /submit-opportunity``, ``POST /assign-opportunity``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cosync_worker.connector import update_job
from cosync_worker.store import Store

__all__ = ["run_deal_job"]


async def run_deal_job(
    store: Store, payload: dict[str, Any], work: Callable[[str], Awaitable[str]], errors: Mapping[str, str]
) -> str:
    """Mark the job running, do ``work`` on its deal and report the outcome at ``GET /jobs/{id}``: failed,
    with ``errors[outcome]`` as its error, for an outcome ``errors`` names, succeeded otherwise. An exception
    of ``work`` leaves the job running (the worker fails it if the event dead-letters)."""
    job_id, deal_id = str(payload["job_id"]), str(payload["deal_id"])
    await update_job(store, job_id, "running")
    outcome = await work(deal_id)
    result = {"dealId": deal_id, "outcome": outcome}
    if outcome in errors:
        await update_job(store, job_id, "failed", result=result, error=errors[outcome])
    else:
        await update_job(store, job_id, "succeeded", result=result)
    return outcome
