"""Emulator of HubSpot's CRM APIs (objects v3, associations v4, properties, owners, pipelines, webhooks)."""

from .app import HubSpotEmulator
from .webhooks import sign_v3

__all__ = ["HubSpotEmulator", "sign_v3"]
