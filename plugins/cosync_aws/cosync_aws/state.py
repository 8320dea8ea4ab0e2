"""What the connector keeps in the state store: typed per-object state (a pydantic model per kind of object,
declared on the connector as :class:`ObjectState`, written by compare-and-set) and the keys of the rest.

Every kind is ``legacy``: a record the release before the SDK wrote under the same key, unversioned, is read
until the first versioned write carries it over.

A deal's state is written by handlers under different ordering keys (the HubSpot deal and the Partner Central
opportunity) and by flows that do not take the deal's lock (submission), so it is never written back whole
from a copy read before a long call: every write is :meth:`BoundState.update`, a compare-and-set on the
record's version that re-applies its change when another writer got there first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cosync_worker.connector import ObjectState

__all__ = [
    "RECONCILE_CURSOR",
    "Creating",
    "DealState",
    "InvitationState",
    "OpportunityLink",
    "RelatedMark",
    "ToldState",
    "deal_state",
    "invitation_state",
    "link_to",
    "marked_at",
    "note_key",
    "opportunity_link",
    "related_id",
    "related_mark",
    "replace",
    "setting",
    "told_state",
]

RECONCILE_CURSOR = "aws:reconcile:last_modified"


class Creating(BaseModel):
    """A CreateOpportunity under way: sent again exactly, so its ClientToken returns the same opportunity."""

    request: dict[str, Any]
    owned: dict[str, Any]
    read_at_ms: int = 0


class DealState(BaseModel):
    """The last state synced for a deal (``aws:deal:<deal id>``; state written before the SDK is read as is)."""

    # A key this model does not name (written by an older or newer release) is carried, never dropped.
    model_config = ConfigDict(extra="allow")

    opportunity_id: str | None = None
    # False: created, but the write-back to the deal (solutions, properties, note) has not finished.
    linked: bool | None = None
    tagged: bool | None = None  # False: no tag, so no event of the deal costs a call until its name changes
    error: str | None = None  # why the opportunity could not be created
    creating: Creating | None = None
    owned: dict[str, Any] = Field(default_factory=dict)  # what the opportunity holds, by owned path
    hubspot: dict[str, Any] = Field(default_factory=dict)  # the deal's view of it, by HubSpot property
    read_at_ms: int = 0  # when the deal was read for ``owned``: older events are covered
    reverse_written_ms: int = 0  # when a reverse sync last wrote to the deal: an older read must not push
    solutions: list[str] | None = None  # associated after the creation (None: not yet tried)
    sending: dict[str, Any] = Field(default_factory=dict)  # what a push is writing right now, by owned path
    conflicts: dict[str, str] = Field(default_factory=dict)  # owned path -> pending manual conflict id
    submitting: float | None = None  # when cosync's own submission started
    submit_task_id: str | None = None
    submit_error: str | None = None  # the last "cannot submit" message told to the rep
    submitted: bool = False
    assignee: str | None = None  # the Partner Central user the opportunity is assigned to
    assignee_shown: bool = True  # False: assigned, the deal's ``aws_assigned_partner_user`` not written yet
    # cosync's own last write: when its answer came (our clock) and the LastModifiedDate it answered. An event
    # at or before it, or a reconcile record at or before it, is that write's echo and costs no read.
    own_write_ms: int = 0
    own_modified: str = ""
    # Events cosync's own writes still owe (see echoes.py), none older than ``own_since`` (AWS's clock).
    own_echoes: int = 0
    own_since: str = ""
    # The deal's pushed properties as its last full read saw them (``props``, at ``read_ms``), with the values
    # of the rep's change events applied since (``seen``: property -> the event's occurredAt). A push of an
    # event that came at once takes the deal from here instead of reading it (outbound.py, ``_from_event``).
    deal_copy: dict[str, Any] = Field(default_factory=dict)


# Declared on the connector (``AwsConnector.deals``); ``legacy`` reads what was written before the move.
deal_state = ObjectState(DealState, "deal", legacy=True)


def setting(**fields: Any) -> Callable[[DealState], DealState]:
    """An update that sets ``fields`` and keeps the rest as the store has it now."""
    return lambda state: state.model_copy(update=fields)


def replace(state: DealState) -> Callable[[DealState], DealState]:
    """An update that replaces whatever the store has with ``state``."""
    return lambda _: state


def creation_record(
    opp_id: str, owned: dict[str, Any], view: dict[str, Any], read_at_ms: int, *, linked: bool
) -> DealState:
    """The deal's state once its opportunity exists: ``owned`` is what the opportunity holds, as read from
    HubSpot at ``read_at_ms``; ``view``, the deal properties that opportunity shows."""
    return DealState(opportunity_id=opp_id, linked=linked, owned=owned, hubspot=view, read_at_ms=read_at_ms)


def finish_creation_record(opp_id: str, view: dict[str, Any]) -> Callable[[DealState], DealState]:
    """cosync's own creation stopped between the opportunity -> deal map and its state record (a kill, a store
    error, a lost lease): record it as the creation would have, not yet written back (``linked=False``, so the
    creation's retry finishes the write-back). The opportunity holds ``creating``'s request: the map is written
    only after CreateOpportunity answered, and every attempt sends that request under the same ClientToken.
    ``view``: the deal properties that request shows."""

    def record(state: DealState) -> DealState:
        creating = state.creating
        if state.opportunity_id is not None or creating is None:
            return state
        return creation_record(opp_id, creating.owned, view, creating.read_at_ms, linked=False)

    return record


class OpportunityLink(BaseModel):
    """``aws:opportunity:<opportunity id>``: which deal an opportunity belongs to, without a HubSpot search.
    Written once (:func:`link_to`): a second deal named for the same opportunity never replaces the first."""

    model_config = ConfigDict(extra="allow")

    deal_id: str | None = None


def link_to(deal_id: str) -> Callable[[OpportunityLink], OpportunityLink]:
    """Pure: the update that links an unlinked opportunity to ``deal_id`` and leaves a linked one as it is."""
    return lambda link: link if link.deal_id else link.model_copy(update={"deal_id": deal_id})


class InvitationState(BaseModel):
    """``aws:invitation:<invitation id>``: how far accepting an invitation got."""

    model_config = ConfigDict(extra="allow")

    task_id: str | None = None  # StartEngagementByAcceptingInvitationTask's task, once started
    opportunity_id: str | None = None  # the opportunity the finished task made
    deal_id: str | None = None  # the deal made for it: the invitation is done


class RelatedMark(BaseModel):
    """``aws:related:<object type>:<object id>``: when the last push for a company's or contact's change read
    HubSpot (coalescing: an event older than that is covered)."""

    model_config = ConfigDict(extra="allow")

    read_at_ms: int = 0


def marked_at(read_at_ms: int) -> Callable[[RelatedMark], RelatedMark]:
    """Pure: the update that moves the mark to ``read_at_ms``, never back."""
    return lambda mark: (
        mark if mark.read_at_ms >= read_at_ms else mark.model_copy(update={"read_at_ms": read_at_ms})
    )


class ToldState(BaseModel):
    """``aws:told:<opportunity id>``: per topic, the last value the rep was told and its sequence number
    (``{"value", "seq"}``; see :mod:`.notices`)."""

    model_config = ConfigDict(extra="allow")  # a topic a newer release tells of is carried, never dropped

    review: dict[str, Any] | None = None
    level: dict[str, Any] | None = None
    seller: dict[str, Any] | None = None


# Declared on the connector (``AwsConnector.opportunities`` ...), reached by the flows through ``Deps``.
opportunity_link = ObjectState(OpportunityLink, "opportunity", legacy=True)
invitation_state = ObjectState(InvitationState, "invitation", legacy=True)
related_mark = ObjectState(RelatedMark, "related", legacy=True)
told_state = ObjectState(ToldState, "told", legacy=True)


def related_id(object_type: str, object_id: str) -> str:
    """The object id of a company's or contact's :class:`RelatedMark`."""
    return f"{object_type}:{object_id}"


def note_key(kind: str, ident: str) -> str:
    """A note's dedupe claim (``claim_key``, expiring): one note per (kind, ident) across redeliveries."""
    return f"aws:note:{kind}:{ident}"
