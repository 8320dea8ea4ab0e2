"""Emulator of the AWS Partner Central Selling API (AWS JSON 1.0, botocore's own service model)."""

from .app import PartnerCentralEmulator

__all__ = ["PartnerCentralEmulator"]
