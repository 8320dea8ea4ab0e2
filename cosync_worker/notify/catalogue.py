"""The event catalogue of seed 004 (and seed 001 §4): per kind, its priority, due time, icon, title, context
and action items. Plugins name the kinds they send with the ``cosync_notice_kinds`` hook
(:class:`~cosync_worker.hooks.NoticeKindSpec`): a prefix and the name the rep reads, taking any of the standard
entries below and adding rules of their own. The core itself knows only ``sync.conflict_detected``, the
cloud-neutral conflict.

| kind                              | priority           | due            |
|-----------------------------------|--------------------|----------------|
| ``<prefix>.new_opportunity``      | HIGH               | 24 h           |
| ``<prefix>.opportunity_updated``  | MEDIUM             | 3 d            |
| ``<prefix>.engagement_score``     | HIGH/MEDIUM/LOW    | by priority    |
| ``<prefix>.review_status``        | by status (below)  | 24 h/48 h/3 d  |
| ``<prefix>.submission_confirmed`` | MEDIUM             | 3 d            |
| ``<prefix>.seller_assigned``      | HIGH               | 24 h           |
| ``<prefix>.resources_available``  | LOW                | 7 d            |
| ``<prefix>.conflict_detected``    | HIGH               | 12 h           |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..conflicts.requests import RESOLUTIONS
from ..hooks.types import NoticeKindSpec
from .config import NotifySettings, Priority
from .notice import Notice, NoticeError

__all__ = ["STANDARD_SUFFIXES", "Catalogue", "Rule", "Verdict"]


@dataclass(frozen=True)
class Verdict:
    """What the catalogue decided for one notice; ``None`` from a rule means "not worth notifying"."""

    priority: Priority
    icon: str
    title: str
    context: tuple[str, ...]
    actions: tuple[str, ...]
    due_hours: float | None = None  # None: the configured hours for the priority
    task: bool = True  # False: a note (and the other channels) only, when nothing is left for the rep to do


# A rule gets the name the rep reads for the notice's sender ("Acme Cloud"), the notice and the settings.
Rule = Callable[[str, Notice, NotifySettings], Verdict | None]
_NEUTRAL = "the partner cloud"


def _fact(notice: Notice, name: str, default: Any = "") -> Any:
    value = notice.facts.get(name, default)
    return default if value is None else value


def _opp_line(notice: Notice) -> tuple[str, ...]:
    opp = _fact(notice, "opportunity_id")
    return (f"Opportunity: {opp}",) if opp else ()


def _new(name: str, n: Notice, s: NotifySettings) -> Verdict:
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


def _updated(name: str, n: Notice, s: NotifySettings) -> Verdict:
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


def _score(name: str, n: Notice, s: NotifySettings) -> Verdict | None:
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
            f"{name} Engagement Score Increased ({delta:+g})",
            context,
            ("Accelerate the sales cycle", f"Coordinate next steps with the {name} team")
            if high
            else ("Keep the momentum: share an update with the customer",),
        )
    return Verdict(
        "MEDIUM",
        "⚠️",
        f"{name} Engagement Score Decreased ({delta:+g})",
        context,
        ("Review the opportunity", f"Contact {name} for feedback"),
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
# Clouds name the same outcomes differently.
_STATUS_ALIASES = {"accepted": "approved", "declined": "rejected", "needs info": "action required"}


def _status(name: str, n: Notice, s: NotifySettings) -> Verdict | None:
    status = str(_fact(n, "new_status", n.change_key)).strip()
    known = _STATUS.get(_STATUS_ALIASES.get(status.lower(), status.lower()))
    if known is None:
        return None  # other statuses (Submitted, In review, ...) need no action from the rep
    priority, icon, title, due, actions = known
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


def _submitted(name: str, n: Notice, s: NotifySettings) -> Verdict:
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


def _seller(name: str, n: Notice, s: NotifySettings) -> Verdict:
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


def _resources(name: str, n: Notice, s: NotifySettings) -> Verdict:
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


def _conflict(name: str, n: Notice, s: NotifySettings) -> Verdict:
    conflicts = _fact(n, "conflicts", [])
    lines = tuple(f"Conflict: {c}" for c in conflicts) if isinstance(conflicts, list) else (str(conflicts),)
    conflict_id = _fact(n, "conflict_id")
    # A conflict held for manual resolution is frozen on both sides: editing HubSpot would not settle it.
    settle = (
        f"Settle conflict {conflict_id} with POST /conflicts/resolve ({' or '.join(_WHOLE_SIDE)})"
        if conflict_id
        else "Correct it in HubSpot so the next sync settles it"
    )
    return Verdict(
        "HIGH",
        "⚠️",
        "Sync Conflict Detected",
        (f"HubSpot and {name} disagree on this deal.", *_opp_line(n), *lines),
        ("Decide which value is right", settle),
        12,
    )


# The resolutions that pick one side as it stands (a custom value needs the value itself).
_WHOLE_SIDE = tuple(r for r in RESOLUTIONS if r != "USE_CUSTOM_VALUE")

_RULES: Mapping[str, Rule] = {
    "new_opportunity": _new,
    "opportunity_updated": _updated,
    "engagement_score": _score,
    "review_status": _status,
    "submission_confirmed": _submitted,
    "seller_assigned": _seller,
    "resources_available": _resources,
    "conflict_detected": _conflict,
}
STANDARD_SUFFIXES: tuple[str, ...] = tuple(_RULES)


class Catalogue:
    """The notice kinds this process knows: ``sync.conflict_detected`` plus what plugins registered."""

    def __init__(self, specs: Iterable[NoticeKindSpec] = ()) -> None:
        self._entries: dict[str, tuple[str, Rule, NoticeKindSpec | None]] = {
            "sync.conflict_detected": (_NEUTRAL, _conflict, None)
        }
        for spec in specs:
            self.add(spec)

    @classmethod
    def from_plugins(cls, plugins: Any) -> Catalogue:
        """Every ``cosync_notice_kinds`` answer of ``plugins`` (a ``PluginManager``)."""
        return cls(spec for found in plugins.hook.cosync_notice_kinds() for spec in found or [])

    def add(self, spec: NoticeKindSpec) -> None:
        """Raises ``ValueError`` naming the problem: a bad prefix, an unknown standard suffix, or a kind another
        spec already declared differently (the same spec registered twice is harmless)."""
        if not spec.prefix or "." in spec.prefix or spec.prefix == "sync":
            raise ValueError(f"notice kind prefix {spec.prefix!r} must be non-empty, without '.', not 'sync'")
        chosen = STANDARD_SUFFIXES if spec.suffixes is None else spec.suffixes
        unknown = sorted(set(chosen) - set(_RULES))
        if unknown:
            raise ValueError(
                f"notice kinds {spec.prefix}.{unknown[0]}: {unknown[0]!r} is not a standard entry "
                f"({', '.join(STANDARD_SUFFIXES)}); give it a rule in `rules`"
            )
        rules = {suffix: _RULES[suffix] for suffix in chosen} | dict(spec.rules)
        for suffix, rule in rules.items():
            kind = f"{spec.prefix}.{suffix}"
            held = self._entries.get(kind)
            if held is not None and held[2] != spec:
                raise ValueError(f"notice kind {kind!r} is declared twice, differently")
            self._entries[kind] = (spec.display_name, rule, spec)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._entries)

    def classify(self, notice: Notice, settings: NotifySettings) -> Verdict | None:
        """The catalogue's verdict for ``notice``, or None if it does not warrant a notification."""
        entry = self._entries.get(notice.kind)
        if entry is None:
            raise NoticeError(
                f"unknown notice kind {notice.kind!r}; known kinds: {', '.join(sorted(self._entries))}"
            )
        name, rule, _ = entry
        return rule(name, notice, settings)
