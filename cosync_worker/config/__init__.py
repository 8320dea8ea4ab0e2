"""``config.yaml`` + environment, validated by pydantic; secrets by reference."""

from .loader import ConfigError, apply_env_overrides, load_settings, resolve_secrets, validate_section
from .model import (
    HubSpotSettings,
    LoggingSettings,
    QueueSettings,
    RelaySettings,
    ScheduleSettings,
    Settings,
    StoreSettings,
    WorkerSettings,
)
from .secrets import SecretError, SecretRef

__all__ = [
    "ConfigError",
    "HubSpotSettings",
    "LoggingSettings",
    "QueueSettings",
    "RelaySettings",
    "ScheduleSettings",
    "SecretError",
    "SecretRef",
    "Settings",
    "StoreSettings",
    "WorkerSettings",
    "apply_env_overrides",
    "load_settings",
    "resolve_secrets",
    "validate_section",
]
