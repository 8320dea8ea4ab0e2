"""Recognising cosync's own writes when Partner Central reports them back, without a ``GetOpportunity``.

Every write of cosync's comes back: an EventBridge event (``Opportunity Created``, one ``Opportunity Updated``
per update or solution association) and a newer ``LastModifiedDate`` in the next reconcile page. Reading the
record again for each costs a read per own write (8 for a creation with 7 solutions). Two facts make that
read unnecessary, both on AWS's clock, never ours:

* A reconcile record whose ``LastModifiedDate`` is at or before the ``LastModifiedDate`` AWS answered to
  cosync's last write holds nothing cosync did not read just before that write.
* The ``Opportunity Created`` event of an opportunity whose deal already holds it says nothing new (it may
  also come before the deal knew its opportunity, so it is never counted).
* An event names no ``LastModifiedDate``, and EventBridge's ``time`` has whole seconds, so an AWS change made
  in the same second as cosync's write cannot be told from its echo by time. cosync counts the events its
  writes owe (``own_echoes``) and lets that many pass unread, none older than the first of those writes; any
  other event is read. The count, not a time window, is what keeps an AWS change made right after cosync's
  write visible: its event is one more than the writes owe, and reading it reads the latest record.

A push records a write as its own only when the record it read before writing showed nothing of AWS's that
the deal had not been told (``unseen_by_the_deal``): otherwise the echo is read and reverse-synced as usual.
A lost echo event leaves a count behind; the next event is then skipped and the reconcile, whose record is
newer than the write, reads it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .state import DealState

__all__ = ["aws_time", "echo_event", "owed", "own_record", "same_view_value", "unseen_by_the_deal"]


def aws_time(value: Any) -> datetime | None:
    """A ``LastModifiedDate`` or an event's ``time`` (a datetime or ISO 8601 text) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def own_record(state: DealState, last_modified: Any) -> bool:
    """Pure: whether a reconcile record is at or before cosync's last write (it shows nothing new)."""
    mine, theirs = aws_time(state.own_modified), aws_time(last_modified)
    return mine is not None and theirs is not None and theirs <= mine


def echo_event(state: DealState, event_time: Any) -> bool:
    """Pure: whether an event may be taken for the echo of one of cosync's writes whose events are still owed."""
    since, at = aws_time(state.own_since), aws_time(event_time)
    if state.own_echoes <= 0 or since is None or at is None:
        return False
    return at >= since.replace(microsecond=0)  # EventBridge's ``time`` is truncated to the second


def owed(state: DealState, last_modified: Any, events: int) -> dict[str, Any]:
    """The state fields after cosync's write answered ``last_modified`` and will cause ``events`` events."""
    when = aws_time(last_modified)
    if when is None:
        return {}
    stamp = when.isoformat()
    return {
        "own_modified": stamp,
        "own_since": state.own_since if state.own_echoes > 0 else stamp,
        "own_echoes": state.own_echoes + events,
    }


def same_view_value(prop: str, a: Any, b: Any) -> bool:
    left, right = str(a or ""), str(b or "")
    if prop == "closedate":
        return left[:10] == right[:10]
    return left == right


def unseen_by_the_deal(state: DealState, read: dict[str, str], written: set[str]) -> set[str]:
    """Pure: the deal properties whose value in the record just read (its HubSpot view) differs from what the
    deal was last synced with, leaving out those cosync is writing itself: AWS's changes the deal still owes."""
    return {
        k for k, v in read.items() if k not in written and not same_view_value(k, state.hubspot.get(k), v)
    }
