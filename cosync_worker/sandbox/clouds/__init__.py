"""The emulators of the three co-sell clouds the core still ships, as public names a connector's
``cosync_emulators`` declaration builds its sandbox from (``EmulatorSpec(name, factory, ...)``): a plugin imports
them from here, never from ``cosync_worker.sandbox.<cloud>``, until each emulator moves into its plugin.

Each name is imported when first read, so declaring one cloud's sandbox loads no other cloud's emulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..google import GoogleEmulator
    from ..microsoft import MicrosoftEmulator
    from ..partnercentral import PartnerCentralEmulator

__all__ = ["GoogleEmulator", "MicrosoftEmulator", "PartnerCentralEmulator"]

_HOMES = {
    "GoogleEmulator": "cosync_worker.sandbox.google",
    "MicrosoftEmulator": "cosync_worker.sandbox.microsoft",
    "PartnerCentralEmulator": "cosync_worker.sandbox.partnercentral",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
