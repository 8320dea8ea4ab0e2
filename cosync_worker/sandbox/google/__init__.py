"""Emulator of Google's Cloud CRM Partners API v1 and the OAuth token endpoint service accounts use."""

from .emulator import GoogleEmulator

__all__ = ["GoogleEmulator"]
