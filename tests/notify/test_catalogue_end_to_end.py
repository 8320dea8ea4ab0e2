"""Every catalogue entry through the real worker: the task (owner, priority, due date, association) and the
note seed 004 describes; redelivery, restart and a crash mid-create produce no duplicates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cosync_worker.notify import Notice, NoticeError
from cosync_worker.notify.hubspot_channel import KEY_PROPERTY
from cosync_worker.sandbox.hubspot import HubSpotEmulator

from .conftest import OWNER, by_deal, create_deals, make_settings, running, wait_until
from .notice_connector import notice_event

# (kind, change_key, facts, priority, due hours, icon, title fragment)
CASES: list[tuple[str, str, dict[str, Any], str, float, str, str]] = [
    ("aws.new_opportunity", "O1", {"opportunity_id": "O1"}, "HIGH", 24, "🆕", "New AWS Co-Sell Opportunity"),
    (
        "aws.opportunity_updated",
        "r2",
        {"changes": {"stage": "Qualified"}},
        "MEDIUM",
        72,
        "🔄",
        "Updated by AWS",
    ),
    (
        "aws.engagement_score",
        "60>85",
        {"old_score": 60, "new_score": 85},
        "HIGH",
        24,
        "🎯",
        "Increased (+25)",
    ),
    (
        "aws.engagement_score",
        "40>58",
        {"old_score": 40, "new_score": 58},
        "LOW",
        168,
        "🎯",
        "Increased (+18)",
    ),
    (
        "aws.engagement_score",
        "70>50",
        {"old_score": 70, "new_score": 50},
        "MEDIUM",
        72,
        "⚠️",
        "Decreased (-20)",
    ),
    (
        "aws.review_status",
        "Approved",
        {"old_status": "Submitted"},
        "HIGH",
        24,
        "✅",
        "AWS Approved Opportunity",
    ),
    (
        "aws.review_status",
        "Action Required",
        {"feedback": "add use case"},
        "HIGH",
        48,
        "⚠️",
        "Requires Action",
    ),
    ("aws.review_status", "Rejected", {}, "MEDIUM", 72, "❌", "AWS Rejected Opportunity"),
    (
        "aws.submission_confirmed",
        "s1",
        {"involvement_type": "Co-Sell"},
        "MEDIUM",
        72,
        "📤",
        "Submitted to AWS",
    ),
    (
        "aws.seller_assigned",
        "jo",
        {"seller_name": "Jo", "seller_email": "jo@aws"},
        "HIGH",
        24,
        "👤",
        "Seller",
    ),
    ("aws.resources_available", "3", {"resource_count": 3}, "LOW", 168, "📚", "AWS Resources Available"),
    ("aws.conflict_detected", "c1", {"conflicts": ["amount"]}, "HIGH", 12, "⚠️", "Sync Conflict Detected"),
    ("microsoft.new_opportunity", "R1", {}, "HIGH", 24, "🆕", "New Microsoft Co-Sell Opportunity"),
    ("microsoft.review_status", "Accepted", {}, "HIGH", 24, "✅", "Microsoft Approved Opportunity"),
    ("google.new_opportunity", "G1", {}, "HIGH", 24, "🆕", "New Google Cloud Co-Sell Opportunity"),
    ("google.review_status", "Declined", {}, "MEDIUM", 72, "❌", "Google Cloud Rejected Opportunity"),
]


async def _counts_reach(emu: HubSpotEmulator, tasks: int, notes: int) -> bool:
    return len(emu.objects("tasks")) >= tasks and len(emu.objects("notes")) >= notes


async def test_each_catalogue_entry_creates_the_seed_task_and_note(
    hubspot_emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    emu = hubspot_emulator
    deals = await create_deals(emu, len(CASES))
    settings = make_settings(tmp_path, emu)
    started = datetime.now(UTC)
    events = [notice_event(f"e{i}", c[0], deals[i], c[1], **c[2]) for i, c in enumerate(CASES)]
    async with running(settings) as (rt, _):
        await rt.context.enqueue(events)
        await wait_until(lambda: _counts_reach(emu, len(CASES), len(CASES)))
        tasks, notes = by_deal(emu, "tasks"), by_deal(emu, "notes")
        for deal, (kind, _, _, priority, hours, icon, title) in zip(deals, CASES, strict=True):
            assert len(tasks[deal]) == 1 and len(notes[deal]) == 1, kind
            task = tasks[deal][0]["properties"]
            assert task["hubspot_owner_id"] == OWNER
            assert task["hs_task_priority"] == priority, kind
            assert task["hs_task_status"] == "NOT_STARTED"
            assert task["hs_task_subject"].startswith(icon) and title in task["hs_task_subject"], kind
            assert "Action items" in task["hs_task_body"]
            due = datetime.fromisoformat(task["hs_timestamp"].replace("Z", "+00:00"))
            expected = (due - started).total_seconds() / 3600
            assert hours - 0.1 < expected < hours + 0.1, (kind, expected)
            assert title in notes[deal][0]["properties"]["hs_note_body"]
        # Associations were made inline: every task/note is linked with the type HubSpot defines.
        for tid, _rec in emu.objects("tasks").items():
            assert all(216 in v for v in emu.portal.links[("tasks", tid)]["deals"].values())
        assert emu.calls.get("PUT /crm/v4/objects/{fromObjectType}/{fromObjectId}/associations", 0) == 0

        # Redelivery (a new event id, same notice) and a duplicate within one burst: nothing new.
        again = [notice_event(f"again{i}", c[0], deals[i], c[1], **c[2]) for i, c in enumerate(CASES)]
        await rt.context.enqueue(again)
        await wait_until(lambda: _audit_count(rt, deals[0], 2))
        outcomes = [e.action for e in await rt.context.store.audit_trail(f"deal:{deals[0]}")]
        assert outcomes == ["sent", "duplicate"]
    # Restart: a new process on the same store.
    async with running(settings) as (rt, _):
        await rt.context.enqueue(
            [notice_event(f"restart{i}", c[0], deals[i], c[1], **c[2]) for i, c in enumerate(CASES)]
        )
        await wait_until(lambda: _audit_count(rt, deals[-1], 3))
    assert len(emu.objects("tasks")) == len(CASES) and len(emu.objects("notes")) == len(CASES)


async def _audit_count(rt: Any, deal: str, n: int) -> bool:
    return len(await rt.context.store.audit_trail(f"deal:{deal}")) >= n


async def test_crash_between_create_and_checkpoint_adopts_the_existing_task(
    hubspot_emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    emu = hubspot_emulator
    [deal] = await create_deals(emu, 1)
    notice = Notice("aws.seller_assigned", deal, "jo", {"seller_name": "Jo"})
    async with running(make_settings(tmp_path, emu)) as (rt, notifier):
        hs = rt.context.service("hubspot")
        await hs.ensure_properties(
            list(__import__("cosync_worker.notify.hubspot_channel", fromlist=["x"]).NOTICE_KEY_PROPERTIES)
        )
        # The previous attempt got as far as HubSpot creating the task, then died before its checkpoint.
        ghost = await hs.create("tasks", {"hs_task_subject": "ghost", KEY_PROPERTY: notice.key})
        await rt.context.store.put_state(
            f"notify:{notice.key}",
            {
                "notice": notice.to_dict(),
                "status": "pending",
                "channels": {"hubspot": {"task_phase": "creating"}},
            },
        )
        assert await notifier.notify(notice) == "sent"
        ledger = await rt.context.store.get_state(f"notify:{notice.key}")
        assert ledger is not None and ledger["channels"]["hubspot"]["task_id"] == str(ghost["id"])
        assert len(emu.objects("tasks")) == 1  # adopted, not created twice
        assert len(emu.objects("notes")) == 1
        assert await notifier.notify(notice) == "duplicate"


async def test_owners_thresholds_and_bad_input(hubspot_emulator: HubSpotEmulator, tmp_path: Path) -> None:
    emu = hubspot_emulator
    orphan_a, orphan_b = await create_deals(emu, 2, owner=None)
    [owned] = await create_deals(emu, 1)
    async with running(make_settings(tmp_path / "a", emu)) as (_, notifier):
        # No owner and no fallback: a note only.
        assert await notifier.notify(Notice("aws.new_opportunity", orphan_a, "O9")) == "sent"
        assert orphan_a not in by_deal(emu, "tasks") and len(by_deal(emu, "notes")[orphan_a]) == 1
        # Below seed 001's 15-point threshold: nothing at all.
        small = Notice("aws.engagement_score", owned, "50>60", {"old_score": 50, "new_score": 60})
        assert await notifier.notify(small) == "skipped"
        assert owned not in by_deal(emu, "notes")
        with pytest.raises(NoticeError, match="unknown notice kind 'aws.nope'"):
            await notifier.notify(Notice("aws.nope", owned, "x"))
        with pytest.raises(NoticeError, match="old_score and new_score must be numbers"):
            await notifier.notify(Notice("aws.engagement_score", owned, "x", {"old_score": "high"}))
        with pytest.raises(NoticeError, match="deal_id must be a non-empty string"):
            Notice("aws.new_opportunity", " ", "x")
    fallback = make_settings(
        tmp_path / "b", emu, {"fallback_owner_id": "70000003", "score_change_threshold": 5}
    )
    async with running(fallback) as (_, notifier):
        assert await notifier.notify(Notice("aws.new_opportunity", orphan_b, "O9")) == "sent"
        assert by_deal(emu, "tasks")[orphan_b][0]["properties"]["hubspot_owner_id"] == "70000003"
        assert await notifier.notify(small) == "sent"  # the threshold is configurable


async def test_bad_notify_config_names_the_setting(hubspot_emulator: HubSpotEmulator, tmp_path: Path) -> None:
    from cosync_worker.config import ConfigError

    settings = make_settings(tmp_path, hubspot_emulator, {"high_score": 180, "channels": {"pager": {}}})
    # The runtime builds the notifier at start-up, so a bad notify section refuses to start.
    with pytest.raises(ConfigError) as err:
        async with running_bare(settings):
            pass
    assert "notify.high_score" in str(err.value)


def running_bare(settings: Any) -> Any:
    from cosync_worker.runtime import Runtime

    return Runtime(settings, entry_points=False)
