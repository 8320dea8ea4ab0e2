"""What the rep hears about AWS, through the notification service (seed 004, seed 001 §4): the ``aws.*`` notice
kinds, the pure functions that decide which notice a change of AWS's side is, and a per-opportunity record of
what the rep was told, so each change is one task and one note across redeliveries, restarts and the
reconcile that catches a lost event.

Why a record of its own (``aws:told:<opportunity id>``) and not the deal's synced view: a push of the rep's
edit also records AWS's review status as "synced" (what it read back), so the view can say "already seen" for
an approval no one was told of. The record keeps, per topic, the last value told and a sequence number; the
notice's change key is ``<topic>:<seq>:<value>``. It is written only after the notifier answered, so a crash in
between sends the same key again (the service answers "duplicate"), and the same status coming back later
(Action Required a second time) is a new sequence number, so a new task.

Engagement score: ``GetAwsOpportunitySummary`` gives ``High``/``Medium``/``Low``, not the 0-100 of the seeds,
so the seeds' "±10 / ±15 points" cannot be computed; a change of level is the signal instead (``aws.
engagement_level``): a rise to High is HIGH (the seeds' "high score increase"), any drop is MEDIUM (the
seeds' "score decrease"), a rise below High is LOW (a positive signal).
"""

from __future__ import annotations

import hashlib
from typing import Any

from cosync_worker.connector import BoundState
from cosync_worker.hooks import NoticeKindSpec
from cosync_worker.logs import get_logger
from cosync_worker.notify import Notice, NoticeError, Verdict

from .state import ToldState

__all__ = [
    "LEVELS",
    "NOTICE_KINDS",
    "Told",
    "level_notice",
    "level_rule",
    "new_opportunity_notice",
    "review_notices",
    "seller_notice",
    "send",
]

log = get_logger("cosync.aws")

LEVELS = {"Low": 1, "Medium": 2, "High": 3}
# Review statuses that mean "AWS has the opportunity now": the submission is done.
SUBMITTED_STATUSES = ("Submitted", "In review")


def _opp(notice: Any) -> tuple[str, ...]:
    opp = notice.facts.get("opportunity_id")
    return (f"Opportunity: {opp}",) if opp else ()


def level_rule(name: str, notice: Any, settings: Any) -> Verdict | None:
    """``aws.engagement_level``: facts ``old_level``, ``new_level`` (High/Medium/Low)."""
    old, new = notice.facts.get("old_level"), notice.facts.get("new_level")
    if new not in LEVELS or (old is not None and old not in LEVELS):
        raise NoticeError(
            f"{notice.kind}: new_level (and old_level if given) must be one of High, Medium, Low"
        )
    if old == new:
        return None
    rising = LEVELS[new] > LEVELS.get(old or "", 0)
    context = (f"Engagement score: {old or '(none)'} → {new}.", *_opp(notice))
    if not rising:
        return Verdict(
            "MEDIUM",
            "⚠️",
            f"{name} Engagement Score Decreased ({old} → {new})",
            context,
            ("Review the opportunity", f"Contact {name} for feedback"),
        )
    if new == "High":
        return Verdict(
            "HIGH",
            "🎯",
            f"{name} Engagement Score Increased to High",
            context,
            ("Accelerate the sales cycle", f"Coordinate next steps with the {name} team"),
        )
    return Verdict(
        "LOW",
        "🎯",
        f"{name} Engagement Score Increased to {new}",
        context,
        ("Keep the momentum: share an update with the customer",),
    )


def _sync_error_rule(name: str, notice: Any, settings: Any) -> Verdict:
    """``aws.sync_error``: fact ``error`` (what the rep must fix)."""
    return Verdict(
        "HIGH",
        "❌",
        f"{name} Sync Failed",
        (
            f"cosync could not sync this deal with {name}: {notice.facts.get('error') or 'unknown'}",
            *_opp(notice),
        ),
        ("Fix the fields named above in HubSpot", "The next change syncs the deal again"),
        24,
    )


def _held_back_rule(name: str, notice: Any, settings: Any) -> Verdict:
    """``aws.held_back``: facts ``fields`` (what was not sent) and ``reason``."""
    fields = notice.facts.get("fields") or []
    return Verdict(
        "MEDIUM",
        "⏸️",
        f"Changes Held Back from {name}",
        (
            f"Not sent to {name}: {', '.join(map(str, fields)) or '(none)'}.",
            f"Why: {notice.facts.get('reason') or 'not allowed right now'}.",
            *_opp(notice),
        ),
        (
            f"Nothing to do unless it is urgent: it is sent once {name} allows it",
            f"Else ask {name} to reopen",
        ),
        72,
    )


def _new_rule(name: str, notice: Any, settings: Any) -> Verdict:
    """``aws.new_opportunity``: the seed 004 entry, saying where it came from (an accepted invitation, or
    created in Partner Central by someone else) so the rep need not look it up."""
    invitation, title = notice.facts.get("invitation_id"), notice.facts.get("title")
    origin = (
        f"cosync accepted {name}'s invitation {invitation}."
        if invitation
        else f"It was created in {name} Partner Central, not by cosync (e.g. a multi-partner engagement)."
    )
    return Verdict(
        "HIGH",
        "🆕",
        f"New {name} Co-Sell Opportunity",
        (
            f"{name} shared a new co-sell opportunity with you{f': {title}' if title else ''}.",
            origin,
            *_opp(notice),
        ),
        (
            f"Review the opportunity details from {name}",
            "Assign the deal to its owner",
            f"Schedule a joint call with the {name} team within 24 hours",
        ),
        24,
    )


NOTICE_KINDS = NoticeKindSpec(
    "aws",
    "AWS",
    rules={
        "new_opportunity": _new_rule,
        "engagement_level": level_rule,
        "sync_error": _sync_error_rule,
        "held_back": _held_back_rule,
    },
)


# -- which notice a change is (pure) ------------------------------------------------------------------------
def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def review_notices(
    deal_id: str,
    opp_id: str,
    record: dict[str, Any],
    told: dict[str, Any],
    involvement_type: str,
    baseline: str | None = None,
) -> tuple[list[Notice], dict[str, Any]]:
    """Pure: the notices a record's review status owes the rep given what they were told, and the record of
    what they will have been told once those are sent. ``told`` absent a topic, ``baseline`` (the status the
    deal was last synced with) stands for it; without either the first status seen is the baseline (an
    opportunity cosync just linked has nothing new to tell)."""
    life = record.get("LifeCycle") or {}
    status = str(life.get("ReviewStatus") or "")
    comments = str(life.get("ReviewComments") or life.get("ReviewStatusReason") or "")
    value = f"{status}|{_digest(comments)}" if comments else status
    held = told.get("review") or ({"value": baseline, "seq": 0} if baseline else None)
    if not status or (held is not None and held.get("value") == value):
        return [], told
    if held is None:
        return [], {**told, "review": {"value": value, "seq": 0}}
    seq = int(held.get("seq") or 0) + 1
    old_status = str(held.get("value") or "").split("|", 1)[0]
    notices: list[Notice] = []
    if status != old_status:
        if status in SUBMITTED_STATUSES and old_status not in SUBMITTED_STATUSES:
            notices.append(
                Notice(
                    "aws.submission_confirmed",
                    deal_id,
                    f"review:{seq}:{status}",
                    {"opportunity_id": opp_id, "involvement_type": involvement_type},
                )
            )
    facts: dict[str, Any] = {"opportunity_id": opp_id, "old_status": old_status, "new_status": status}
    if comments:
        facts["feedback"] = comments
    notices.append(Notice("aws.review_status", deal_id, f"review:{seq}:{value}", facts))
    return notices, {**told, "review": {"value": value, "seq": seq}}


def seller_notice(
    deal_id: str, opp_id: str, summary: dict[str, Any], told: dict[str, Any]
) -> tuple[Notice | None, dict[str, Any]]:
    """Pure: the ``aws.seller_assigned`` notice for the AWS seller in a summary's ``OpportunityTeam``."""
    team = summary.get("OpportunityTeam") or []
    seller = team[0] if team else {}
    email = str(seller.get("Email") or "")
    name = " ".join(str(p) for p in (seller.get("FirstName"), seller.get("LastName")) if p) or email
    held = told.get("seller") or {}
    if not name or held.get("value") == (email or name):
        return None, told
    seq = int(held.get("seq") or 0) + 1
    facts: dict[str, Any] = {"opportunity_id": opp_id, "seller_name": name}
    if email:
        facts["seller_email"] = email
    notice = Notice("aws.seller_assigned", deal_id, f"seller:{seq}:{email or name}", facts)
    return notice, {**told, "seller": {"value": email or name, "seq": seq}}


def level_notice(
    deal_id: str, opp_id: str, old: str | None, new: str | None, told: dict[str, Any], direction: str
) -> tuple[Notice | None, dict[str, Any]]:
    """Pure: the ``aws.engagement_level`` notice for a change of level (``direction``: the connector's
    ``notify_score_changes``: any, up, down or none), and the updated record."""
    held = told.get("level")
    previous = held.get("value") if held else old
    if new not in LEVELS or previous == new:
        return None, told
    seq = int((held or {}).get("seq") or 0) + 1
    after = {**told, "level": {"value": new, "seq": seq}}
    rising = LEVELS[new] > LEVELS.get(previous or "", 0)
    wanted = direction == "any" or (direction == "up" and rising) or (direction == "down" and not rising)
    if not wanted:
        return None, after
    facts = {"opportunity_id": opp_id, "old_level": previous, "new_level": new}
    return Notice("aws.engagement_level", deal_id, f"level:{seq}:{new}", facts), after


def new_opportunity_notice(
    deal_id: str, opp_id: str, source: str, invitation_id: str | None = None, title: str | None = None
) -> Notice:
    """Pure: ``aws.new_opportunity`` for a deal cosync made from AWS; ``source`` makes it one per arrival (the
    opportunity id: an invitation's opportunity may be adopted from its event first, see ``inbound``)."""
    facts: dict[str, Any] = {"opportunity_id": opp_id}
    if invitation_id:
        facts["invitation_id"] = invitation_id
    if title:
        facts["title"] = title
    return Notice("aws.new_opportunity", deal_id, f"new:{source}", facts)


# -- sending -------------------------------------------------------------------------------------------------
class Told:
    """The per-opportunity record of what the rep was told (``aws:told:<opportunity id>``, a
    :class:`~cosync_aws.state.ToldState`): read once, written after the notices went out. The write sets only
    the topics that changed since the read, by compare-and-set, so a topic another flow told of meanwhile (the
    summary sync's level while a reverse sync tells a review status) is kept."""

    def __init__(self, state: BoundState[ToldState], opp_id: str) -> None:
        self.state, self.opp_id = state, opp_id
        self._read: dict[str, Any] = {}

    async def read(self) -> dict[str, Any]:
        record = (await self.state.read(self.opp_id)).value.model_dump()
        self._read = {topic: held for topic, held in record.items() if held is not None}
        return dict(self._read)

    async def write(self, told: dict[str, Any]) -> None:
        changed = {topic: held for topic, held in told.items() if self._read.get(topic) != held}
        if changed:
            await self.state.update(
                self.opp_id, lambda now: ToldState.model_validate({**now.model_dump(), **changed})
            )
            self._read = {**self._read, **changed}


async def send(notifier: Any, notices: list[Notice], hs: Any = None, fallback_note: bool = True) -> None:
    """Hand ``notices`` to the process's notifier (it de-duplicates and delivers). Without a notifier (a
    process built without one) the rep still gets the note, once per call: the caller's record keeps it
    from repeating."""
    if not notices:
        return
    if notifier is not None:
        await notifier.notify_many(notices)
        return
    if hs is not None and fallback_note:
        from .hubspot_side import add_note

        for n in notices:
            facts = ", ".join(f"{k}: {v}" for k, v in sorted(n.facts.items()))
            await add_note(hs, n.deal_id, f"{n.kind}: {facts}")
    log.info("aws_notices_without_notifier", kinds=sorted({n.kind for n in notices}))
