"""The event catalogue of seed 004 (and seed 001 §4): per kind, its priority, due time, icon, title, context
and action items. The AWS entries are the seeds' table; Microsoft referrals and Google opportunities get the
equivalent entries so all three clouds notify the same way.

| kind                              | priority           | due            |
|-----------------------------------|--------------------|----------------|
| ``<cloud>.new_opportunity``       | HIGH               | 24 h           |
| ``<cloud>.opportunity_updated``   | MEDIUM             | 3 d            |
| ``aws.engagement_score``          | HIGH/MEDIUM/LOW    | by priority    |
| ``<cloud>.review_status``         | by status (below)  | 24 h/48 h/3 d  |
| ``<cloud>.submission_confirmed``  | MEDIUM             | 3 d            |
| ``<cloud>.seller_assigned``       | HIGH               | 24 h           |
| ``<cloud>.resources_available``   | LOW                | 7 d            |
| ``<cloud>.conflict_detected``     | HIGH               | 12 h           |

``<cloud>`` is ``aws``, ``microsoft`` or ``google``. ``sync.conflict_detected`` is the cloud-neutral conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import NotifySettings, Priority
from .notice import Notice, NoticeError

__all__ = ["CATALOGUE", "CLOUDS", "Entry", "Verdict", "classify"]

CLOUDS = {"aws": "AWS", "microsoft": "Microsoft", "google": "Google Cloud"}


@dataclass(frozen=True)
class Verdict:
    """What the catalogue decided for one notice; ``None`` from a rule means "not worth notifying"."""

    priority: Priority
    icon: str
    title: str
    context: tuple[str, ...]
    actions: tuple[str, ...]
    due_hours: float | None = None  # None: the configured hours for the priority


Rule = Callable[[str, Notice, NotifySettings], Verdict | None]


@dataclass(frozen=True)
class Entry:
    suffix: str
    rule: Rule


def _fact(notice: Notice, name: str, default: Any = "") -> Any:
    value = notice.facts.get(name, default)
    return default if value is None else value


def _opp_line(notice: Notice) -> tuple[str, ...]:
    opp = _fact(notice, "opportunity_id")
    return (f"Opportunity: {opp}",) if opp else ()


def _new(cloud: str, n: Notice, s: NotifySettings) -> Verdict:
    name = CLOUDS[cloud]
    return Verdict(
        "HIGH",
        "🆕",
        f"New {name} Co-Sell Opportunity",
        (f"{name} shared a new co-sell opportunity with you.", *_opp_line(n)),
        (
            f"Review the opportunity details from {name}",
            "Accept or decline the invitation",
            f"Schedule a joint call with the {name} team within 24 hours",
        ),
        24,
    )


def _updated(cloud: str, n: Notice, s: NotifySettings) -> Verdict:
    name = CLOUDS[cloud]
    changes = _fact(n, "changes", {})
    lines = [f"{k}: {v}" for k, v in changes.items()] if isinstance(changes, dict) else [str(changes)]
    return Verdict(
        "MEDIUM",
        "🔄",
        f"Opportunity Updated by {name}",
        (f"{name} synced changes back to this deal.", *_opp_line(n), *lines),
        ("Review the changes", "Update your close plan if needed"),
        72,
    )


def _score(cloud: str, n: Notice, s: NotifySettings) -> Verdict | None:
    try:
        old, new = float(_fact(n, "old_score")), float(_fact(n, "new_score"))
    except (TypeError, ValueError):
        raise NoticeError(f"{n.kind}: facts old_score and new_score must be numbers") from None
    delta = new - old
    if abs(delta) < s.score_change_threshold:
        return None
    context = (f"Engagement score moved from {old:g} to {new:g} ({delta:+g}).", *_opp_line(n))
    if delta > 0:
        high = new >= s.high_score
        return Verdict(
            "HIGH" if high else "LOW",
            "🎯",
            f"{CLOUDS[cloud]} Engagement Score Increased ({delta:+g})",
            context,
            ("Accelerate the sales cycle", f"Coordinate next steps with the {CLOUDS[cloud]} team")
            if high
            else ("Keep the momentum: share an update with the customer",),
        )
    return Verdict(
        "MEDIUM",
        "⚠️",
        f"{CLOUDS[cloud]} Engagement Score Decreased ({delta:+g})",
        context,
        ("Review the opportunity", f"Contact {CLOUDS[cloud]} for feedback"),
    )


_STATUS: dict[str, tuple[Priority, str, str, float, tuple[str, ...]]] = {
    "approved": (
        "HIGH",
        "✅",
        "{name} Approved Opportunity",
        24,
        ("Coordinate with the {name} seller", "Schedule joint calls"),
    ),
    "action required": (
        "HIGH",
        "⚠️",
        "{name} Requires Action",
        48,
        ("Review the feedback", "Update the opportunity within 48 hours"),
    ),
    "rejected": (
        "MEDIUM",
        "❌",
        "{name} Rejected Opportunity",
        72,
        ("Review the rejection reason", "Consider resubmission"),
    ),
}
# Microsoft and Google name the same outcomes differently.
_STATUS_ALIASES = {"accepted": "approved", "declined": "rejected", "needs info": "action required"}


def _status(cloud: str, n: Notice, s: NotifySettings) -> Verdict | None:
    status = str(_fact(n, "new_status", n.change_key)).strip()
    known = _STATUS.get(_STATUS_ALIASES.get(status.lower(), status.lower()))
    if known is None:
        return None  # other statuses (Submitted, In review, ...) need no action from the rep
    priority, icon, title, due, actions = known
    name = CLOUDS[cloud]
    context = [f"Review status: {_fact(n, 'old_status', '?')} → {status}", *_opp_line(n)]
    if _fact(n, "feedback"):
        context.append(f"Feedback: {_fact(n, 'feedback')}")
    return Verdict(
        priority,
        icon,
        title.format(name=name),
        tuple(context),
        tuple(a.format(name=name) for a in actions),
        due,
    )


def _submitted(cloud: str, n: Notice, s: NotifySettings) -> Verdict:
    name = CLOUDS[cloud]
    involvement = _fact(n, "involvement_type")
    return Verdict(
        "MEDIUM",
        "📤",
        f"Submitted to {name}",
        (f"The opportunity was submitted to {name}.", *_opp_line(n))
        + ((f"Involvement: {involvement}",) if involvement else ()),
        (f"Watch for {name}'s review (usually within a few days)", "Keep the deal details current"),
        72,
    )


def _seller(cloud: str, n: Notice, s: NotifySettings) -> Verdict:
    name = CLOUDS[cloud]
    seller = _fact(n, "seller_name", "a seller")
    email = _fact(n, "seller_email")
    return Verdict(
        "HIGH",
        "👤",
        f"{name} Seller Assigned",
        (f"{name} assigned {seller}{f' ({email})' if email else ''} to this opportunity.", *_opp_line(n)),
        ("Introduce yourself to the seller", "Coordinate the account strategy"),
        24,
    )


def _resources(cloud: str, n: Notice, s: NotifySettings) -> Verdict:
    name = CLOUDS[cloud]
    count = _fact(n, "resource_count", "New")
    types = _fact(n, "resource_types", [])
    return Verdict(
        "LOW",
        "📚",
        f"{name} Resources Available",
        (f"{count} {name} resources were synced to this deal.", *_opp_line(n))
        + ((f"Types: {', '.join(map(str, types))}",) if types else ()),
        ("Review the resources", "Share the relevant ones with the customer"),
        168,
    )


def _conflict(cloud: str, n: Notice, s: NotifySettings) -> Verdict:
    conflicts = _fact(n, "conflicts", [])
    lines = tuple(f"Conflict: {c}" for c in conflicts) if isinstance(conflicts, list) else (str(conflicts),)
    where = CLOUDS.get(cloud, "the partner cloud")
    conflict_id = _fact(n, "conflict_id")
    # A conflict held for manual resolution is frozen on both sides: editing HubSpot would not settle it.
    settle = (
        f"Settle conflict {conflict_id} with POST /conflicts/resolve (USE_HUBSPOT_VALUE or "
        f"USE_PARTNER_CENTRAL_VALUE)"
        if conflict_id
        else "Correct it in HubSpot so the next sync settles it"
    )
    return Verdict(
        "HIGH",
        "⚠️",
        "Sync Conflict Detected",
        (f"HubSpot and {where} disagree on this deal.", *_opp_line(n), *lines),
        ("Decide which value is right", settle),
        12,
    )


_RULES: dict[str, Callable[[str, Notice, NotifySettings], Verdict | None]] = {
    "new_opportunity": _new,
    "opportunity_updated": _updated,
    "engagement_score": _score,
    "review_status": _status,
    "submission_confirmed": _submitted,
    "seller_assigned": _seller,
    "resources_available": _resources,
    "conflict_detected": _conflict,
}

CATALOGUE: frozenset[str] = frozenset(
    {f"{cloud}.{suffix}" for cloud in CLOUDS for suffix in _RULES} | {"sync.conflict_detected"}
)


def classify(notice: Notice, settings: NotifySettings) -> Verdict | None:
    """The catalogue's verdict for ``notice``, or None if it does not warrant a notification."""
    if notice.kind not in CATALOGUE:
        raise NoticeError(f"unknown notice kind {notice.kind!r}; known kinds: {', '.join(sorted(CATALOGUE))}")
    cloud, _, suffix = notice.kind.partition(".")
    return _RULES[suffix](cloud, notice, settings)
