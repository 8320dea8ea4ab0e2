"""Text of a notification in each channel's format: HTML for HubSpot task/note bodies, plain text and a
JSON document for SNS, Slack mrkdwn. Seed 004 "Note Format": icon, clear title, context, action items."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from .notice import Message

__all__ = ["digest_html", "message_document", "note_html", "plain_text", "task_html"]


def _list(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def task_html(m: Message) -> str:
    parts = [f"<p>{html.escape(line)}</p>" for line in m.context]
    parts.append("<p><strong>Action items:</strong></p>" + _list(m.actions))
    return "".join(parts)


def note_html(m: Message) -> str:
    head = f"<p><strong>{html.escape(m.subject)}</strong> (priority {m.priority})</p>"
    return head + task_html(m)


def plain_text(m: Message) -> str:
    lines = [m.subject, "", *m.context, "", "Action items:", *(f"- {a}" for a in m.actions)]
    return "\n".join(lines)


def message_document(m: Message) -> dict[str, Any]:
    """The JSON body SNS subscribers (and anything downstream of them) receive."""
    return {
        "key": m.key,
        "kind": m.notice.kind,
        "dealId": m.notice.deal_id,
        "priority": m.priority,
        "subject": m.subject,
        "context": list(m.context),
        "actions": list(m.actions),
        "dueAt": m.due_at.isoformat(),
        "ownerId": m.owner_id,
    }


def digest_html(day: str, items: Sequence[dict[str, Any]]) -> str:
    rows = [f"{i.get('subject', '')} (deal {i.get('deal_id', '?')})" for i in items]
    return f"<p>{len(rows)} low-priority co-sell updates on {html.escape(day)}:</p>" + _list(rows)
