"""In-process emulators of HubSpot, Partner Central, Microsoft and Google on loopback."""

from .base import Emulator

__all__ = ["Emulator"]
