"""The notification service (issue 10): connectors say what happened, the service tells the rep, once.

``notifier = context.service("notify")``; ``await notifier.notify(Notice(kind=..., deal_id=..., change_key=...,
facts={...}))``. See ``docs/notifications.md``.
"""

from .catalogue import STANDARD_SUFFIXES, Catalogue, Verdict
from .channel import Channel, Checkpoint, Delivery
from .config import ChannelSettings, DigestSettings, NotifySettings
from .notice import Message, Notice, NoticeError
from .service import Notifier, Outcome, build_notifier

__all__ = [
    "STANDARD_SUFFIXES",
    "Catalogue",
    "Channel",
    "ChannelSettings",
    "Checkpoint",
    "Delivery",
    "DigestSettings",
    "Message",
    "Notice",
    "NoticeError",
    "Notifier",
    "NotifySettings",
    "Outcome",
    "Verdict",
    "build_notifier",
]
