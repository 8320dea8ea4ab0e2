"""Channel plugin: a Slack incoming webhook, the example of a channel beyond the seeds.

Config: ``notify.channels.slack: {webhook_url, priorities}``; enable with
``plugin_modules: [cosync_worker.notify.slack_channel]``. One POST per notification (incoming webhooks take
one message each); the webhook URL is a secret and is never logged. Shape:
https://api.slack.com/messaging/webhooks (``{"text": ...}``, answers 200 ``ok``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from cosync_worker.hooks.specs import hookimpl
from cosync_worker.hooks.types import NotificationChannelSpec

from .channel import Checkpoint, Delivery
from .notice import Message

__all__ = ["SlackChannel"]


def slack_text(m: Message) -> str:
    lines = [f"*{m.subject}* (priority {m.priority}, deal {m.notice.deal_id})", *m.context]
    lines += [f"• {a}" for a in m.actions]
    return "\n".join(lines)


class SlackChannel:
    name = "slack"

    def __init__(self, webhook_url: str, *, timeout_seconds: float = 10.0) -> None:
        if not str(webhook_url).startswith(("http://", "https://")):
            raise ValueError("notify.channels.slack.webhook_url must be an http(s) URL")
        self._url = webhook_url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return "SlackChannel(webhook_url=***)"

    async def deliver(self, items: Sequence[Delivery], checkpoint: Checkpoint) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        for d in items:
            if d.record.get("sent"):
                continue
            async with self._session.post(self._url, json={"text": slack_text(d.message)}) as resp:
                if resp.status >= 300:
                    raise RuntimeError(f"Slack webhook answered HTTP {resp.status}")
            d.record["sent"] = True
            await checkpoint([d])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _factory(context: Any, options: dict[str, Any]) -> SlackChannel:
    url: Any = options.get("webhook_url")
    if url is not None and hasattr(url, "get"):  # a SecretRef-like object
        url = url.get()
    if not url:
        raise ValueError("notify.channels.slack.webhook_url is required when the Slack channel is enabled")
    return SlackChannel(str(url))


@hookimpl
def cosync_notification_channels(context: Any) -> list[NotificationChannelSpec]:
    return [NotificationChannelSpec("slack", _factory, description="Slack incoming webhook")]
