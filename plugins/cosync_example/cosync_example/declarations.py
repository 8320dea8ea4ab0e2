"""What the example brings besides its handlers: the ticket desk's emulator for the sandbox and the notice
kinds it sends. ``plugin.py`` exposes these hooks on the connector, so one entry point registers them all."""

from __future__ import annotations

from typing import Any

from cosync_worker.hooks import EmulatorSpec, NoticeKindSpec, hookimpl
from cosync_worker.notify import Notice, Verdict

from .desk import TicketDeskEmulator

__all__ = ["EMULATOR", "KINDS", "cosync_emulators", "cosync_notice_kinds", "sandbox_section"]


def _emulator(host: str, time_scale: float) -> TicketDeskEmulator:
    return TicketDeskEmulator(host=host)


def _connection(emulator: Any) -> dict[str, Any]:
    # ``cosync sandbox`` prints this as its "example" entry; cosync_sandbox_config reads it back.
    return {"base_url": emulator.base_url, "api_token": emulator.token}


def sandbox_section(desk: dict[str, Any]) -> dict[str, Any]:
    """``connectors.example`` for the desk ``cosync sandbox`` started (its ``example`` entry)."""
    return {"base_url": desk["base_url"], "api_token": desk["api_token"]}


def _resolved(name: str, notice: Notice, settings: Any) -> Verdict:
    ticket = notice.facts.get("ticket_id") or "?"
    return Verdict(
        "MEDIUM",
        "✅",
        f"{name}: ticket resolved",
        (f"The desk resolved ticket {ticket} for this deal.",),
        ("Tell the customer the request is done",),
    )


EMULATOR = EmulatorSpec("example", _emulator, _connection, description="the Example ticket desk")
# No standard kind (new_opportunity, ...) fits a ticket desk: one kind of its own, example.ticket_resolved.
KINDS = NoticeKindSpec("example", "Example desk", suffixes=(), rules={"ticket_resolved": _resolved})


@hookimpl
def cosync_emulators() -> list[EmulatorSpec]:
    return [EMULATOR]


@hookimpl
def cosync_notice_kinds() -> list[NoticeKindSpec]:
    return [KINDS]
