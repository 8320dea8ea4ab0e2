"""The candidates CSV: ``cosync link --write-candidates FILE`` writes it, a person sets ``accept`` to ``yes``
on the pairs that are the same deal, and ``--apply FILE`` links those (and only those)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from .plan import Action

__all__ = ["COLUMNS", "CandidatesFileError", "read_confirmed", "write_candidates"]

COLUMNS = ("connector", "deal_id", "remote_id", "score", "label", "accept")
_YES = frozenset({"yes", "y", "true", "1", "x"})


class CandidatesFileError(ValueError):
    """The file cannot be used; the message names the line or column, never a cell's content."""


def write_candidates(path: Path, candidates: Iterable[Action]) -> int:
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for a in candidates:
            writer.writerow([a.connector, a.deal_id, a.remote_id, f"{a.score or 0:.3f}", a.label, "no"])
            rows += 1
    return rows


def read_confirmed(path: Path) -> dict[str, set[tuple[str, str]]]:
    """``{connector: {(deal id, remote id), ...}}`` of the rows whose ``accept`` says yes."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CandidatesFileError(f"cannot read {path.name}: {type(exc).__name__}") from None
    reader = csv.DictReader(text.splitlines())
    missing = [
        c for c in ("connector", "deal_id", "remote_id", "accept") if c not in (reader.fieldnames or [])
    ]
    if missing:
        raise CandidatesFileError(
            f"{path.name}: no column {', '.join(missing)} (expected {', '.join(COLUMNS)})"
        )
    confirmed: dict[str, set[tuple[str, str]]] = {}
    for line, row in enumerate(reader, start=2):
        if str(row.get("accept") or "").strip().lower() not in _YES:
            continue
        connector, deal_id, remote_id = (
            str(row.get(k) or "").strip() for k in ("connector", "deal_id", "remote_id")
        )
        if not connector or not remote_id or not deal_id.isdigit():
            raise CandidatesFileError(
                f"{path.name} line {line}: needs a connector, a numeric deal_id and a remote_id"
            )
        confirmed.setdefault(connector, set()).add((deal_id, remote_id))
    return confirmed
