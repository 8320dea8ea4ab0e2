"""What ``cosync link``/``cosync backfill`` print: the plan as a table (deal, cloud, action, score, fields
that differ) with a count per action and the budget notes, or the same as one JSON object."""

from __future__ import annotations

from typing import Any

from .plan import KINDS
from .run import Budget, Report, when

__all__ = ["ACTION_WORDS", "budget_lines", "print_report", "report_json"]

ACTION_WORDS = {
    "adopt": "linked already (state recorded)",
    "link": "link (exact match)",
    "accept": "link (confirmed candidate)",
    "candidate": "candidate (needs a person)",
    "create_deal": "create HubSpot deal",
    "create_remote": "create remote record",
    "reconcile": "reconcile once (differs)",
}


def budget_lines(budget: Budget) -> list[str]:
    lines = [
        f"{budget.connector}: {budget.creations} creation(s) = {budget.writes} write(s) of a quota of "
        f"{budget.per_second:g}/s and {budget.per_day:,}/24 h ({budget.available:,} of it for this backfill today): "
        f"at least {budget.seconds:.0f}s"
    ]
    if budget.deferred:
        lines.append(
            f"{budget.connector}: the day's quota does not fit the plan: {budget.now} creation(s) now (closing "
            f"soonest first), {budget.deferred} after {when(budget.resume_after)}: run `cosync backfill` again then"
        )
    return lines


def _totals(report: Report) -> dict[str, dict[str, int]]:
    return {name: plan.counts() for name, plan in report.plans.items()}


def report_json(report: Report, *, dry_run: bool) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "actions": [
            {
                "connector": a.connector,
                "action": a.kind,
                "deal_id": a.deal_id,
                "remote_id": a.remote_id,
                "score": a.score,
                "label": a.label,
                "differs": list(a.differs),
            }
            for a in report.actions()
        ],
        "counts": _totals(report),
        "budget": [b.__dict__ | {"deferred": b.deferred} for b in report.budgets],
        "deferred": [a.key for a in report.deferred],
        "done": dict(report.done),
        "already_done": dict(report.already),
        "failed": [{"action": a.key, "reason": r} for a, r in report.failed],
    }


def print_report(report: Report, *, dry_run: bool, width: int = 160) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Labels come from the CRM and the clouds: never read as markup or emoji codes (":link:").
    console = Console(width=width, emoji=False, markup=False, highlight=False)
    title = "would do (dry run: nothing written anywhere)" if dry_run else "plan"
    table = Table(title=title)
    for column in ("deal", "cloud", "action", "remote", "score", "differs", "title"):
        table.add_column(column)
    for a in report.actions():
        cells = (
            a.deal_id or "(new)",
            a.connector,
            ACTION_WORDS[a.kind],
            a.remote_id or "-",
            "" if a.score is None else f"{a.score:.2f}",
            ", ".join(a.differs) or "-",
            a.label[:60],
        )
        table.add_row(*(Text(c) for c in cells))
    console.print(table)
    counts = Table(title="per action")
    counts.add_column("cloud")
    for kind in KINDS:
        counts.add_column(kind)
    for name, found in _totals(report).items():
        counts.add_row(name, *(str(found[k]) for k in KINDS))
    console.print(counts)
    for budget in report.budgets:
        for line in budget_lines(budget):
            console.print(line)
    if not dry_run:
        done = ", ".join(f"{k} {v}" for k, v in sorted(report.done.items())) or "nothing"
        already = sum(report.already.values())
        console.print(
            f"done: {done}; already done by an earlier run: {already}; failed: {len(report.failed)}"
        )
        for action, reason in report.failed:
            console.print(f"  failed {action.key}: {reason}")
