"""Long-running API work: a route answers 202 with a job id, and ``GET /jobs/{id}`` reports progress.

Jobs are records in the store under ``job:<id>`` so any replica (and the worker that does the work) sees them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..store import Store

__all__ = ["JOB_STATUSES", "Job", "JobAccepted", "create_job", "get_job", "job_key", "update_job"]

JobStatus = Literal["pending", "running", "succeeded", "failed"]
JOB_STATUSES: tuple[str, ...] = ("pending", "running", "succeeded", "failed")


class Job(BaseModel):
    id: str
    kind: str
    status: JobStatus
    params: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    error: str | None = None
    created_at: float
    updated_at: float


class JobAccepted(BaseModel):
    """What a route answers (202) after :func:`create_job`: poll ``location`` for the outcome."""

    job_id: str
    status: JobStatus = "pending"
    location: str


def job_key(job_id: str) -> str:
    return f"job:{job_id}"


async def create_job(store: Store, kind: str, params: dict[str, Any]) -> str:
    """Record a pending job and return its id."""
    now = time.time()
    job = Job(id=uuid.uuid4().hex, kind=kind, status="pending", params=params, created_at=now, updated_at=now)
    await store.put_state(job_key(job.id), job.model_dump(mode="json"))
    return job.id


async def get_job(store: Store, job_id: str) -> Job | None:
    data = await store.get_state(job_key(job_id))
    return None if data is None else Job.model_validate(data)


async def update_job(
    store: Store, id: str, status: str, result: Any = None, error: str | None = None
) -> None:
    """Move a job to ``status``; ``LookupError`` if there is no such job, ``ValueError`` for a bad status."""
    if status not in JOB_STATUSES:
        raise ValueError(f"job status {status!r} is not one of {', '.join(JOB_STATUSES)}")
    job = await get_job(store, id)
    if job is None:
        raise LookupError(f"no job {id!r}")
    updated = job.model_copy(
        update={"status": status, "result": result, "error": error, "updated_at": time.time()}
    )
    await store.put_state(job_key(id), Job.model_validate(updated.model_dump()).model_dump(mode="json"))
