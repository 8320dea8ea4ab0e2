"""The ``Store`` contract, run against both backends: SQLite on a tmp file and DynamoDB on moto's server."""

from __future__ import annotations

import asyncio
import time

import pytest

from cosync_worker.store import AuditEntry, Store, StoreUnavailable, acquire
from cosync_worker.testing.clock import FakeClock

from .conftest import MakeStore

# -- idempotency keys ---------------------------------------------------------------------------------


async def test_claim_once_second_claim_refused(store: Store, make_store: MakeStore) -> None:
    assert not await store.has_key("evt-1")
    assert await store.claim_key("evt-1", 60) is True
    assert await store.has_key("evt-1")
    assert await store.claim_key("evt-1", 60) is False
    other = await make_store()  # a second connection (another replica) sees the same key
    assert await other.claim_key("evt-1", 60) is False
    assert await other.claim_key("evt-2", 60) is True


async def test_expired_key_counts_as_absent_and_is_claimable_again(store: Store, clock: FakeClock) -> None:
    assert await store.claim_key("short", 0.3)
    assert await store.claim_key("long", 60)
    clock.advance(0.3)  # expiry is inclusive: a key is gone at its expiry time
    assert not await store.has_key("short")
    assert await store.existing_keys(["short", "long"]) == {"long"}
    assert await store.claim_key("short", 60) is True
    assert await store.has_key("short")


async def test_release_makes_a_key_claimable(store: Store) -> None:
    assert await store.claim_key("job", 60)
    await store.release_key("job")
    assert not await store.has_key("job")
    assert await store.claim_key("job", 60) is True
    await store.release_key("never-claimed")  # forgetting an unknown key is not an error


async def test_record_and_existing_keys_in_batches(store: Store) -> None:
    keys = [f"k{i}" for i in range(130)]  # more than one DynamoDB batch of either kind
    assert await store.existing_keys(keys) == set()
    assert await store.existing_keys([]) == set()
    await store.record_keys([*keys[:110], "k0"], 60)  # a duplicate in the batch is harmless
    assert await store.existing_keys([*keys, "k1"]) == set(keys[:110])
    assert await store.claim_key("k5", 60) is False
    assert await store.claim_key("k120", 60) is True


async def test_bad_ttl_is_refused_with_a_clear_error(store: Store) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        await store.claim_key("x", 0)
    with pytest.raises(ValueError, match="ttl_seconds"):
        await store.record_keys(["x"], -1)


# -- cursors and state --------------------------------------------------------------------------------


async def test_cursors(store: Store, make_store: MakeStore) -> None:
    assert await store.get_cursor("aws:opportunities") is None
    await store.set_cursor("aws:opportunities", "2024-05-01T00:00:00Z")
    await store.set_cursor("gcp:leads", "token-1")
    assert await store.get_cursor("aws:opportunities") == "2024-05-01T00:00:00Z"
    await store.set_cursor("aws:opportunities", "2024-05-02T00:00:00Z")
    other = await make_store()
    assert await other.get_cursor("aws:opportunities") == "2024-05-02T00:00:00Z"
    assert await other.get_cursor("gcp:leads") == "token-1"


async def test_state_round_trip(store: Store) -> None:
    assert await store.get_state("hubspot:deal:1") is None
    state = {"stage": "closedwon", "amount": 1234.5, "tags": ["a", "b"], "nested": {"ok": True, "n": None}}
    await store.put_state("hubspot:deal:1", state)
    assert await store.get_state("hubspot:deal:1") == state
    await store.put_state("hubspot:deal:1", {"stage": "lost"})
    assert await store.get_state("hubspot:deal:1") == {"stage": "lost"}  # replaced, not merged
    assert await store.get_state("hubspot:deal:2") is None


# -- audit log ----------------------------------------------------------------------------------------


async def test_audit_append_trail_order_and_sequence(store: Store) -> None:
    seqs = []
    start = time.time()  # entries older than the store's audit retention (7 years) are never returned
    for i in range(4):
        seqs.append(
            await store.append_audit(
                AuditEntry("hubspot:deal:7", "aws", f"update-{i}", {"i": i, "why": "sync"}, at=start + i)
            )
        )
        await store.append_audit(AuditEntry("hubspot:deal:8", "gcp", "create"))
    assert seqs == sorted(seqs) and len(set(seqs)) == 4 and seqs[0] >= 1

    trail = await store.audit_trail("hubspot:deal:7")
    assert [e.action for e in trail] == ["update-0", "update-1", "update-2", "update-3"]
    assert [e.seq for e in trail] == seqs
    assert trail[2] == AuditEntry(
        "hubspot:deal:7", "aws", "update-2", {"i": 2, "why": "sync"}, "cosync", start + 2, seqs[2]
    )
    assert [e.action for e in await store.audit_trail("hubspot:deal:7", limit=2)] == ["update-0", "update-1"]

    other = await store.audit_trail("hubspot:deal:8")
    assert len(other) == 4 and all(e.system == "gcp" and e.at > 0 for e in other)  # "at" defaults to now
    assert await store.audit_trail("hubspot:deal:nothing") == []


async def test_concurrent_audit_appends_get_distinct_numbers(store: Store, make_store: MakeStore) -> None:
    other = await make_store()
    entries = [AuditEntry("obj", "aws", f"a{i}") for i in range(20)]
    got = await asyncio.gather(
        *(s.append_audit(e) for s, e in zip([store, other] * 10, entries, strict=True))
    )
    assert len(set(got)) == 20
    trail = await store.audit_trail("obj")
    assert sorted(got) == [e.seq for e in trail]


# -- shared rate budgets ------------------------------------------------------------------------------


async def test_token_bucket_refill_maths(store: Store, clock: FakeClock) -> None:
    rate, capacity = 2.0, 2.0
    for _ in range(2):  # a fresh bucket starts full
        assert await store.take_tokens("b", rate, capacity) == 0.0
    assert await store.take_tokens("b", rate, capacity) == pytest.approx(0.5)  # one token at 2/s
    assert await store.take_tokens("b", rate, capacity, tokens=2) == pytest.approx(1.0)

    clock.advance(0.25)  # a draw that must wait took nothing: the refill since the last take counts
    assert await store.take_tokens("b", rate, capacity) == pytest.approx(0.25)
    clock.advance(0.25)
    assert await store.take_tokens("b", rate, capacity) == 0.0  # refilled as promised

    clock.advance(-10)  # a clock that stepped back refills nothing (and takes nothing)
    assert await store.take_tokens("b", rate, capacity) == pytest.approx(0.5)
    clock.advance(10 + 1.6)  # 1.6 s after the last take: would refill 3.2 tokens, but the bucket holds 2
    assert await store.take_tokens("b", rate, capacity, tokens=2) == 0.0
    assert await store.take_tokens("b", rate, capacity) == pytest.approx(0.5)
    assert await store.take_tokens("other-budget", rate, capacity, tokens=2) == 0.0  # budgets are separate


async def test_token_bucket_refuses_impossible_draws(store: Store) -> None:
    with pytest.raises(ValueError, match="capacity"):
        await store.take_tokens("b", 1.0, 2.0, tokens=3)
    with pytest.raises(ValueError, match="rate_per_second"):
        await store.take_tokens("b", 0.0, 2.0)
    with pytest.raises(ValueError, match="capacity"):
        await acquire(store, "b", 1.0, 0.0)


async def test_acquire_paces_draws_and_times_out(store: Store, clock: FakeClock) -> None:
    timed = {"clock": clock, "sleep": clock.sleep}
    start = clock.now
    for _ in range(8):
        await acquire(store, "paced", 20.0, 2.0, **timed)
    # 2 from the full bucket, then 6 at 20/s = 0.3 s of pauses; each pause overshoots its wait by at most the
    # jitter (10 % + 2 ms), and an overshoot is refill the next draw uses, so the total stays within that.
    assert len(clock.slept) >= 6
    assert 0.3 - 1e-9 <= clock.now - start <= 0.3 * 1.1 + len(clock.slept) * 0.002

    paused = len(clock.slept)
    with pytest.raises(TimeoutError, match="paced"):
        await acquire(store, "paced", 0.5, 1.0, timeout=0.2, **timed)  # the next token is ~2 s away
    assert len(clock.slept) == paused  # gave up at once on the estimate instead of sleeping to the deadline

    await acquire(store, "paced", 0.5, 1.0, timeout=3.0, **timed)  # ~2 s fits in 3 s: one pause, then drawn
    assert len(clock.slept) == paused + 1
    assert 1.7 <= clock.slept[-1] <= 2.0 * 1.1 + 0.002


# -- availability -------------------------------------------------------------------------------------


async def test_closed_store_is_unavailable(store: Store) -> None:
    await store.ping()
    await store.close()
    with pytest.raises(StoreUnavailable, match="not open"):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.claim_key("k", 60)
