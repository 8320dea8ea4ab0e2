"""Pointing the connector at the sandbox's Google emulator (``cosync sandbox --write-config``)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["sandbox_key_info", "sandbox_section"]


def sandbox_key_info(
    token_url: str, client_email: str = "cosync@sandbox.iam.gserviceaccount.com"
) -> dict[str, Any]:
    """A throwaway service-account key: google-auth must sign a JWT, and the emulator checks its claims."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "sandbox",
        "private_key_id": "sandbox",
        "private_key": pem,
        "client_email": client_email,
        "client_id": "1",
        "token_uri": token_url,
    }


def sandbox_section(google: dict[str, Any]) -> dict[str, Any]:
    """``connectors.gcp`` for the emulator described by ``sandbox["google"]`` (base_url, token_url)."""
    return {
        "base_url": google["base_url"],
        "token_url": google["token_url"],
        "partner_id": google.get("partner_id", "sandbox-partner"),
        "service_account_json": json.dumps(sandbox_key_info(google["token_url"])),
        "link_lookup": "sandbox",
        "sandbox_operator_url": google["base_url"],
    }
