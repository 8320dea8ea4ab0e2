"""Issue 11's fault suite on the cloud engine: 3 worker processes on one SQS FIFO queue and one DynamoDB table
(moto's server), one replica SIGKILLed every few seconds, 10 % 5xx and a 429 storm from every emulator, every
scheduled loop ticking every few seconds (issue 15). Every deal goes to AWS, and a share of them to Google
and to Microsoft too, whose connectors and loops run on the same replicas (issue 16)."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path

import pytest
from aiobotocore.session import get_session
from cosync_aws.client import WRITE_OPERATIONS

from cosync_worker.queue.sqs import ensure_queues
from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.store.dynamodb import create_table

from .harness import Load, assert_clean, run_scenario, start_suite
from .store_meter import StoreMeter, store_meter

# The full load (200 deals, 2,000 changes) takes about 3 minutes here, CPU-bound: six Python processes
# on two cores. `make test` runs it at 60 deals / 560 changes to keep the suite within its time budget;
# COSYNC_FAULTS_FULL=1 runs the full load (figures of both in docs/benchmarks.md). One deal in `cloud_every`
# also goes to Google and another to Microsoft: enough deals to meet every fault, few enough not to lengthen
# the run much (their APIs have no quota the suite needs to exhaust, unlike Partner Central's).
FULL = os.environ.get("COSYNC_FAULTS_FULL") == "1"
# COSYNC_FAULTS_STORE_METER=1 counts the replicas' DynamoDB calls (tests/faults/store_meter.py)
METER = os.environ.get("COSYNC_FAULTS_STORE_METER") == "1"
LOAD = (
    Load(deals=200, rounds=10, kill_every=8.0, converge_timeout=900.0, cloud_every=5)
    if FULL
    else Load(
        deals=60,
        rounds=10,
        invitations=3,
        aws_changes=20,
        linked_deals=20,
        kill_every=5.0,
        converge_timeout=450.0,  # an upper bound only: 160-250 s on a busy 2-core machine
        cloud_every=6,
    )
)


@pytest.mark.slow
@pytest.mark.timeout(1200 if FULL else 720)
async def test_three_replicas_on_sqs_and_dynamodb_survive_kills_5xx_and_a_429_storm(
    tmp_path: Path,
    moto_servers: tuple[str, str],
    hs: HubSpotEmulator,
    quota_pc: PartnerCentralEmulator,
    google_emulator: GoogleEmulator,
    microsoft_emulator: MicrosoftEmulator,
) -> None:
    moto_endpoint, serialized_moto_endpoint = moto_servers
    name = f"cosync-faults-{uuid.uuid4().hex[:8]}"
    queue_url, dlq_url = await ensure_queues(name, endpoint_url=moto_endpoint, visibility_timeout=5)
    table = f"{name}-state"
    await create_table(table, endpoint_url=serialized_moto_endpoint, session=get_session())
    queue = {"kind": "sqs", "queue_url": queue_url, "dlq_url": dlq_url, "endpoint_url": moto_endpoint}
    clouds = {"google": google_emulator, "microsoft": microsoft_emulator}
    async with contextlib.AsyncExitStack() as stack:
        meter: StoreMeter | None = None
        if METER:
            meter = await stack.enter_async_context(store_meter(serialized_moto_endpoint))
        store = {
            "kind": "dynamodb",
            "table": table,
            "endpoint_url": meter.url if meter else serialized_moto_endpoint,
        }
        async for suite in start_suite(
            tmp_path, hs, quota_pc, queue=queue, store=store, workers=3, clouds=clouds
        ):
            try:
                result = await run_scenario(suite, LOAD)
            finally:
                if meter is not None:  # also when the run fails: the figure is what explains a slow one
                    writes = sum(n for op, n in quota_pc.calls.items() if op in WRITE_OPERATIONS)
                    print("\nSTORE METER", json.dumps(meter.figures(writes), indent=1))
            print("\nFAULT SUITE sqs+dynamodb", json.dumps(result["figures"], indent=1))
            await assert_clean(suite, result)
