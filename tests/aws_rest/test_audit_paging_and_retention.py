"""``GET /audit-trail/{id}`` pages through a trail of any length (no stop at 1,000) and filters by date; both
stores keep audit entries for ``store.audit_retention_days`` (seed 002: 7 years), driven by a clock the test
moves: DynamoDB by a TTL attribute (and reads that leave expired entries out), SQLite by pruning."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiobotocore.session import get_session
from tests_aws.conftest import Stack

from cosync_worker.config import Settings, StoreSettings
from cosync_worker.connector import record_audit
from cosync_worker.runtime import open_store
from cosync_worker.store import AuditEntry, Store
from cosync_worker.store.dynamodb import DynamoStore, create_table
from cosync_worker.store.sqlite import SqliteStore
from cosync_worker.testing.clock import FakeClock

from .conftest import VIEWER, api

DAY = 86_400.0


async def _entries(store: Store, n: int, opp: str) -> None:
    for i in range(n):
        await record_audit(
            store,
            system="partnercentral",
            object_type="opportunity",
            object_id=opp,
            action="update_opportunity",
            about="partnercentral",
            deal_id="1",
            calls=["UpdateOpportunity"],
            n=i,
        )


async def test_a_trail_longer_than_a_thousand_pages_to_its_end(stack: Stack) -> None:
    opp = "O1234567890"
    await _entries(stack.rt.context.store, 1_150, opp)
    seen: list[int] = []
    token: str | None = None
    pages = 0
    while True:
        query = f"?limit=1000&nextToken={token}" if token else "?limit=1000"
        status, body = await api(stack, "GET", f"/audit-trail/{opp}{query}", token=VIEWER)
        assert status == 200, body
        assert body["total"] == 1_150 and body["objectKey"] == f"partnercentral:opportunity:{opp}"
        seen += [e["detail"]["n"] for e in body["entries"]]
        pages += 1
        token = body["nextToken"]
        if token is None:
            break
    assert pages == 2 and seen == list(range(1_150))
    # the full key names the same trail
    _, body = await api(stack, "GET", f"/audit-trail/partnercentral:opportunity:{opp}?limit=5", token=VIEWER)
    assert [e["detail"]["n"] for e in body["entries"]] == [0, 1, 2, 3, 4] and body["nextToken"]
    # startDate: a date after every entry leaves none (and says so in total)
    _, body = await api(stack, "GET", f"/audit-trail/{opp}?startDate=2999-01-01", token=VIEWER)
    assert body["entries"] == [] and body["total"] == 0 and body["nextToken"] is None
    for query, named in (
        ("?limit=0", "limit"),
        ("?nextToken=abc", "nextToken"),
        ("?startDate=soon", "startDate"),
    ):
        status, body = await api(stack, "GET", f"/audit-trail/{opp}{query}", token=VIEWER)
        assert status == 400 and named in str(body["errors"]), (query, body)


@pytest.fixture(params=["sqlite", "dynamodb"])
async def aged_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, FakeClock]]:
    clock = FakeClock()
    store: Store
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "state.db", clock=clock, audit_retention_seconds=30 * DAY)
    else:
        endpoint = str(request.getfixturevalue("serialized_moto_endpoint"))
        table = f"cosync-audit-{uuid.uuid4().hex[:12]}"
        await create_table(table, endpoint_url=endpoint)
        store = DynamoStore(table, endpoint_url=endpoint, clock=clock, audit_retention_seconds=30 * DAY)
    await store.open()
    try:
        yield store, clock
    finally:
        await store.close()


async def test_entries_past_the_retention_are_gone(aged_store: tuple[Store, FakeClock]) -> None:
    store, clock = aged_store
    for i in range(3):
        await store.append_audit(AuditEntry("k", "hubspot", "old", {"i": i}, at=clock()))
    clock.advance(20 * DAY)
    await store.append_audit(AuditEntry("k", "hubspot", "newer", at=clock()))
    assert await store.audit_count("k") == 4
    clock.advance(11 * DAY)  # the first three are 31 days old now, the last 11
    assert [e.action for e in await store.audit_trail("k")] == ["newer"]
    assert await store.audit_count("k") == 1
    if isinstance(store, SqliteStore):
        assert await store.prune_audit() == 3  # deleted, not only hidden
        assert await store.prune_audit() == 0
        clock.advance(30 * DAY)
        await store.append_audit(AuditEntry("k", "hubspot", "latest", at=clock()))  # prunes as it appends
        assert await store.prune_audit() == 0
        assert [e.action for e in await store.audit_trail("k")] == ["latest"]
    else:
        assert isinstance(store, DynamoStore)
        # what DynamoDB's TTL deletes by: the entry's time plus the retention
        session = get_session()
        async with session.create_client(
            "dynamodb", region_name=store.region, endpoint_url=store.endpoint_url
        ) as client:
            item = await client.get_item(
                TableName=store.table_name, Key={"pk": {"S": "audit#k"}, "sk": {"S": "1".zfill(20)}}
            )
        assert float(item["Item"]["expires_at"]["N"]) == pytest.approx(
            float(item["Item"]["at"]["N"]) + 30 * DAY, abs=1
        )


async def test_retention_is_configured_in_days_seven_years_by_default(tmp_path: Path) -> None:
    assert Settings().store.audit_retention_days == 2555
    store = await open_store(StoreSettings(path=tmp_path / "s.db", audit_retention_days=90))
    try:
        assert getattr(store, "audit_retention_seconds", None) == 90 * DAY
    finally:
        await store.close()
    with pytest.raises(ValueError, match="audit_retention_days"):
        Settings.model_validate({"store": {"audit_retention_days": 0}})
