"""How long audit entries are kept (seed 002: 7 years for compliance, configurable as
``store.audit_retention_days``); both stores take it and enforce it their own way."""

from __future__ import annotations

__all__ = ["AUDIT_RETENTION_SECONDS", "check_retention"]

AUDIT_RETENTION_SECONDS = 2555 * 86_400.0


def check_retention(seconds: float) -> None:
    if not seconds > 0:
        raise ValueError(f"audit retention must be positive, got {seconds}")
