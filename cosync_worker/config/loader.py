"""Load ``config.yaml`` + environment into :class:`Settings`, reporting every error with its YAML path."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .model import Settings
from .secrets import SecretRef

__all__ = ["ConfigError", "apply_env_overrides", "load_settings", "resolve_secrets", "validate_section"]

ENV_PREFIX = "COSYNC__"
M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """Invalid configuration; ``problems`` holds one ``path: message`` line per error."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _errors(exc: ValidationError, prefix: str = "") -> list[str]:
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        path = f"{prefix}.{path}" if prefix and path else (prefix or path or "<root>")
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{path}: {msg}")
    return lines


def apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``COSYNC__WORKER__CONCURRENCY=4`` sets ``worker.concurrency``; values are parsed as YAML scalars."""
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        node = raw
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        try:
            parsed = yaml.safe_load(value) if value else value
        except yaml.YAMLError:
            parsed = value
        node[path[-1]] = parsed
    return raw


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate; raises :class:`ConfigError` listing every problem."""
    raw: Any = {}
    if path is not None:
        p = Path(path)
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError([f"{p}: cannot read ({exc.strerror})"]) from None
        except yaml.YAMLError as exc:
            raise ConfigError([f"{p}: not valid YAML ({exc})"]) from None
        if not isinstance(raw, dict):
            raise ConfigError([f"{p}: the top level must be a mapping, got {type(raw).__name__}"])
    raw = apply_env_overrides(raw, os.environ if environ is None else environ)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_errors(exc)) from None


def validate_section(model: type[M], data: Mapping[str, Any], path: str) -> M:
    """Validate a connector's own section, naming errors by their full YAML path."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_errors(exc, path)) from None


def _walk_secrets(obj: Any) -> list[SecretRef]:
    found: list[SecretRef] = []
    if isinstance(obj, SecretRef):
        found.append(obj)
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            found.extend(_walk_secrets(getattr(obj, name)))
    elif isinstance(obj, dict):
        for v in obj.values():
            found.extend(_walk_secrets(v))
    elif isinstance(obj, list | tuple):
        for v in obj:
            found.extend(_walk_secrets(v))
    return found


async def resolve_secrets(*objs: Any) -> None:
    """Resolve every :class:`SecretRef` in ``objs`` once at start; errors list every reference that failed."""
    problems = []
    for ref in {id(r): r for o in objs for r in _walk_secrets(o)}.values():
        try:
            await ref.resolve()
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(problems)
