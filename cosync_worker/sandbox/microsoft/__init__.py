"""Emulator of Microsoft Partner Center's Referrals API and the Azure AD token endpoint in front of it."""

from .emulator import MicrosoftEmulator

__all__ = ["MicrosoftEmulator"]
