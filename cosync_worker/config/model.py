"""The one configuration model, read from ``config.yaml`` and ``COSYNC__SECTION__KEY`` environment variables.

Sections of the core live here; each connector validates its own section (``connectors.<name>``) with the
model it declares through the ``cosync_config_model`` hook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .secrets import SecretRef

__all__ = [
    "ApiToken",
    "ConsoleSettings",
    "HubSpotSettings",
    "LoggingSettings",
    "QueueSettings",
    "RelaySettings",
    "ScheduleSettings",
    "Settings",
    "StoreSettings",
    "WorkerSettings",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueSettings(_Section):
    kind: Literal["local", "sqs"] = "local"
    path: Path = Path(".cosync/queue.db")
    queue_url: str | None = None
    dlq_url: str | None = None
    region: str = "us-east-1"
    endpoint_url: str | None = None
    visibility_timeout: float = Field(30.0, gt=0)
    max_receives: int = Field(10, ge=1)


class StoreSettings(_Section):
    kind: Literal["sqlite", "dynamodb"] = "sqlite"
    path: Path = Path(".cosync/state.db")
    table: str | None = None
    region: str = "us-east-1"
    endpoint_url: str | None = None
    # Seed 002: audit entries are kept 7 years (2,555 days) for compliance, then dropped (DynamoDB's TTL,
    # SQLite's pruning); reads never return an entry older than this even before it is gone.
    audit_retention_days: float = Field(2555, gt=0, le=36_500)


class RetrySettings(_Section):
    max_attempts: int = Field(8, ge=1)
    # Re-sends of an event whose object another worker holds (not attempts: nothing failed). A lease frees a
    # lock within its TTL after a kill and within a few TTLs under a stuck holder, so this only stops a loop.
    max_busy_waits: int = Field(60, ge=1)
    base_delay: float = Field(1.0, ge=0)
    max_delay: float = Field(300.0, ge=0)


class WorkerSettings(_Section):
    concurrency: int = Field(16, ge=1, le=1024)
    batch_size: int = Field(10, ge=1, le=10)
    wait_seconds: float = Field(20.0, ge=0, le=20)
    drain_seconds: float = Field(25.0, ge=0)
    processed_ttl_seconds: float = Field(7 * 24 * 3600, gt=0)
    heartbeat_seconds: float = Field(10.0, gt=0)
    retry: RetrySettings = RetrySettings()


class ScheduleSettings(_Section):
    interval_seconds: float | None = Field(None, gt=0)
    jitter_seconds: float | None = Field(None, ge=0)
    enabled: bool = True


class ApiToken(_Section):
    """A bearer token with the person it belongs to: ``viewer`` tokens read; ``user`` tokens also act, but
    resolve a conflict or roll back only on deals whose HubSpot owner has ``user`` as email; ``admin``
    tokens act on everything. A plain string in ``relay.api_tokens`` is an admin token of the user ``api``."""

    token: SecretRef
    user: str = Field("api", min_length=1, max_length=254, pattern=r"^[A-Za-z0-9_.@+-]+$")
    role: Literal["viewer", "user", "admin"] = "admin"


class ConsoleSettings(_Section):
    enabled: bool = False
    # How long a console sign-in lasts, and how often the relay records its counters for the overview.
    session_seconds: float = Field(8 * 3600, gt=0)
    sample_seconds: float = Field(30.0, gt=0)
    # Per connector, the cloud console's page of a remote object, ``{id}`` standing for its id.
    remote_links: dict[str, str] = Field(default_factory=dict)


class RelaySettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(1_048_576, gt=0)
    api_tokens: list[SecretRef | ApiToken] = Field(default_factory=list)
    cors_origins: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)
    legacy_signatures: bool = False
    signature_max_age_seconds: float = Field(300.0, gt=0)
    public_url: str | None = None
    # A client that trickles its request line and headers (or sits idle on a keep-alive connection) holds a
    # connection slot for as long as the server waits; these bound that wait.
    header_timeout_seconds: float = Field(30.0, gt=0)
    body_timeout_seconds: float = Field(30.0, gt=0)
    console: ConsoleSettings = ConsoleSettings()


class HubSpotSettings(_Section):
    base_url: str = "https://api.hubapi.com"
    access_token: SecretRef | None = None
    client_secret: SecretRef | None = None
    app_id: int | None = None
    requests_per_10s: int = Field(100, ge=1)
    search_per_second: int = Field(5, ge=1)
    portal_id: int | None = None
    # Let `cosync run` create the custom properties the connectors need instead of refusing to start
    # without them (the private app then needs the crm.schemas.*.write scopes).
    create_properties: bool = False


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(_Section):
    queue: QueueSettings = QueueSettings()
    store: StoreSettings = StoreSettings()
    worker: WorkerSettings = WorkerSettings()
    schedules: dict[str, ScheduleSettings] = Field(default_factory=dict)
    relay: RelaySettings = RelaySettings()
    hubspot: HubSpotSettings = HubSpotSettings()
    logging: LoggingSettings = LoggingSettings()
    plugins: dict[str, bool] = Field(default_factory=dict, description="plugin name -> enabled")
    load_entry_points: bool = Field(True, description="find installed connectors through entry points")
    plugin_modules: list[str] = Field(default_factory=list, description="extra modules to load as plugins")
    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    notify: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        """Rules between keys, each naming its own paths; ``cosync config check`` sees them as ``run`` does."""
        problems = []
        # The worker dead-letters an event with its reason after max_attempts; the queue's own count is the
        # backstop for a message that kills the worker every time. Reached first, it would dead-letter events
        # the worker meant to retry (a deferred retry waiting out another replica's lock), with no reason.
        receives, attempts = self.queue.max_receives, self.worker.retry.max_attempts
        if receives <= attempts:
            problems.append(
                f"queue.max_receives ({receives}) must be greater than worker.retry.max_attempts ({attempts})"
            )
        if self.queue.kind == "sqs" and not self.queue.queue_url:
            problems.append("queue.queue_url: required when queue.kind is sqs")
        if self.store.kind == "dynamodb" and not self.store.table:
            problems.append("store.table: required when store.kind is dynamodb")
        if problems:
            raise ValueError("\n".join(problems))
        return self
