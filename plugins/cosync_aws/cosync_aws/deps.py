"""What every flow needs, gathered once per process by the plugin's start-up hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cosync_worker.hubspot import HubSpotClient
from cosync_worker.store import Store

from .client import PartnerCentralClient
from .config import AwsConfig
from .solutions import SolutionCache

__all__ = ["Deps"]


@dataclass
class Deps:
    config: AwsConfig
    pc: PartnerCentralClient
    hs: HubSpotClient
    store: Store
    solutions: SolutionCache | None = None
    notifier: Any | None = None  # cosync_worker.notify.Notifier, when the process runs one
