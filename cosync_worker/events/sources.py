"""The EventBridge sources the process knows: declared by plugins (``cosync_event_sources``), registered when a
plugin is, so every parser of the process (the worker's decoder, the sandbox's event bus, ``cosync status``)
reads the same table. A source nobody registered is looked up once among the installed plugins."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .. import metrics

if TYPE_CHECKING:
    from ..hooks.types import EventSourceSpec

__all__ = ["event_source", "known_sources", "register_event_sources", "slug"]

_registered: dict[str, EventSourceSpec] = {}
_installed_loaded = False


def slug(text: str) -> str:
    """``Engagement Invitation Created`` -> ``engagement_invitation_created``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def register_event_sources(specs: Iterable[EventSourceSpec]) -> None:
    """Add sources; the same one declared again is ignored, a different one under a taken name is refused."""
    for spec in specs:
        known = _registered.get(spec.source)
        if known is not None and known != spec:
            raise ValueError(f"EventBridge source {spec.source!r} is declared twice, differently")
        _registered[spec.source] = spec
        metrics.declare_event_types(f"{spec.system}.{slug(t)}" for t in spec.detail_types)


def _load_installed() -> None:
    global _installed_loaded
    _installed_loaded = True
    from ..hooks.manager import ENTRY_POINT_GROUP, PluginManager

    # Registering a plugin registers its sources (``PluginManager.register``).
    PluginManager().load_setuptools_entrypoints(ENTRY_POINT_GROUP)


def event_source(source: str) -> EventSourceSpec | None:
    if source not in _registered and not _installed_loaded:
        _load_installed()
    return _registered.get(source)


def known_sources() -> list[str]:
    return sorted(_registered)
