"""Dead-letter bodies as the console shows them: values under secret-looking keys and any configured secret
value replaced, so inspecting a message never shows a credential."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from ..config import SecretRef, Settings
from ..config.loader import _walk_secrets

__all__ = ["MASK", "redact_body", "secret_values"]

MASK = "[redacted]"
_SECRET_KEY = re.compile(r"secret|token|passw|authori[sz]ation|api[_-]?key|credential|signature|cookie", re.I)


def secret_values(settings: Settings, extra: Iterable[Any] = ()) -> list[str]:
    """Every resolved secret of the configuration (and of connector configs), longest first."""
    found: list[str] = []
    for obj in (settings, *extra):
        for _, ref in _walk_secrets(obj, ""):
            if isinstance(ref, SecretRef) and ref.resolved and len(ref.get()) >= 4:
                found.append(ref.get())
    return sorted(set(found), key=len, reverse=True)


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if _SECRET_KEY.search(str(k)) else _walk(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v) for v in value]
    return value


def redact_body(body: str, secrets: Iterable[str]) -> str:
    try:
        text = json.dumps(_walk(json.loads(body)), indent=2, sort_keys=True)
    except ValueError:
        text = body
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
