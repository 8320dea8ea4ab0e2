"""Load ``config.yaml`` + environment into :class:`Settings`, reporting every error with its YAML path."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .model import Settings
from .secrets import SecretError, SecretRef

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
        if err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
            if not err["loc"]:
                lines.extend(msg.splitlines())  # rules between keys name their own paths
                continue
        lines.append(f"{path}: {msg}")
    return lines


# PyYAML quotes the offending text in its messages ("found undefined alias 'prod_token'") and prints the
# line itself in str(exc); that text can be a secret. Only the grammar's own tokens are kept.
_QUOTED = re.compile(r"\s*'([^']*)'")
_GRAMMAR_TOKEN = re.compile(r"<[a-z ]+>|[^\w\s]{1,3}")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """The kind of error and where (1-based line and column), never the text of the file."""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"a character YAML does not allow, at character {exc.position + 1}"
    problem = str(getattr(exc, "problem", None) or "syntax error")
    problem = _QUOTED.sub(lambda m: m.group(0) if _GRAMMAR_TOKEN.fullmatch(m.group(1)) else "", problem)
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


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
            raise ConfigError([f"{p}: not valid YAML: {_yaml_problem(exc)}"]) from None
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


def _walk_secrets(obj: Any, path: str) -> list[tuple[str, SecretRef]]:
    """Every secret reference under ``obj`` with its YAML path (``relay.api_tokens.0``)."""
    found: list[tuple[str, SecretRef]] = []
    if isinstance(obj, SecretRef):
        found.append((path, obj))
    elif isinstance(obj, BaseModel):
        for name, info in type(obj).model_fields.items():
            found.extend(_walk_secrets(getattr(obj, name), _join(path, info.alias or name)))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            found.extend(_walk_secrets(value, _join(path, str(key))))
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(obj):
            found.extend(_walk_secrets(value, _join(path, str(index))))
    return found


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


async def resolve_secrets(settings: Settings, connector_configs: Mapping[str, Any] | None = None) -> None:
    """Resolve every :class:`SecretRef` of the settings and of each validated ``connectors.<name>`` section
    once at start. The one path ``cosync run`` and ``cosync config check`` share, so both report the same
    problems: one ``<yaml path>: <why>`` line per reference that failed, never a value."""
    refs = _walk_secrets(settings, "")
    for name, config in (connector_configs or {}).items():
        refs.extend(_walk_secrets(config, f"connectors.{name}"))
    problems = []
    seen: set[int] = set()
    for path, ref in refs:
        if id(ref) in seen:
            continue
        seen.add(id(ref))
        try:
            await ref.resolve()
        except SecretError as exc:
            problems.append(f"{path}: {exc}")
    if problems:
        raise ConfigError(problems)
