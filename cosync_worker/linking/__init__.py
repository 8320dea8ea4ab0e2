"""``cosync link`` and ``cosync backfill``: match what already exists, then create what is missing.

The core plans and keeps the ledger; connectors contribute through the ``cosync_linkers`` hook
(:class:`~cosync_worker.hooks.LinkerSpec`). See ``docs/first-day.md``.
"""

from .confirm import CandidatesFileError, read_confirmed, write_candidates
from .plan import Action, DealView, Plan, plan_connector
from .run import Budget, Options, Report, collect_linkers, run_linking
from .score import Score, score

__all__ = [
    "Action",
    "Budget",
    "CandidatesFileError",
    "DealView",
    "Options",
    "Plan",
    "Report",
    "Score",
    "collect_linkers",
    "plan_connector",
    "read_confirmed",
    "run_linking",
    "score",
    "write_candidates",
]
