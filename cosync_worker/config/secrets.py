"""Secrets by reference: ``env:NAME``, ``file:PATH``, ``ssm:/path``, ``secretsmanager:NAME`` or a literal.

A :class:`SecretRef` never shows its value in ``repr``/``str``/JSON, so a config object can be logged.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

__all__ = ["SecretError", "SecretRef"]

_SCHEMES = ("env:", "file:", "ssm:", "secretsmanager:")


class SecretError(ValueError):
    """A reference that cannot be resolved; the message says why without the YAML path (the caller knows
    it) and names the reference, never a value."""


class SecretRef:
    """A reference to a secret, resolved once at start by :meth:`resolve` / :func:`resolve_secrets`."""

    __slots__ = ("_value", "ref")

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self._value: str | None = None if ref.startswith(_SCHEMES) else ref

    @property
    def is_reference(self) -> bool:
        return self.ref.startswith(_SCHEMES)

    @property
    def resolved(self) -> bool:
        return self._value is not None

    def get(self) -> str:
        """The secret's value; raises if :meth:`resolve` has not run."""
        if self._value is None:
            raise SecretError(f"secret {self.describe()} was not resolved")
        return self._value

    def describe(self) -> str:
        return self.ref if self.is_reference else "<literal>"

    async def resolve(self, *, region: str = "us-east-1", endpoint_url: str | None = None) -> str:
        if self._value is not None:
            return self._value
        scheme, _, name = self.ref.partition(":")
        if scheme == "env":
            if name not in os.environ:
                raise SecretError(f"environment variable {name} is not set")
            self._value = os.environ[name]
        elif scheme == "file":
            try:
                text = await asyncio.to_thread(Path(name).read_text, encoding="utf-8")
                self._value = text.strip()
            except OSError as exc:
                raise SecretError(f"cannot read file {name} ({exc.strerror})") from None
        else:
            self._value = await _resolve_aws(scheme, name, region, endpoint_url)
        return self._value

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(self.ref)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def build(value: Any) -> SecretRef:
            if isinstance(value, SecretRef):
                return value
            if not isinstance(value, str) or not value:
                raise ValueError(
                    "must be a non-empty string (a secret or env:/file:/ssm:/secretsmanager: ref)"
                )
            return cls(value)

        return core_schema.no_info_plain_validator_function(
            build,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v.describe()),
        )


async def _resolve_aws(scheme: str, name: str, region: str, endpoint_url: str | None) -> str:
    from aiobotocore.session import get_session
    from botocore.exceptions import BotoCoreError, ClientError

    service = "ssm" if scheme == "ssm" else "secretsmanager"
    try:
        async with get_session().create_client(service, region_name=region, endpoint_url=endpoint_url) as c:
            if scheme == "ssm":
                resp = await c.get_parameter(Name=name, WithDecryption=True)
                return str(resp["Parameter"]["Value"])
            resp = await c.get_secret_value(SecretId=name)
            return str(resp["SecretString"])
    except (BotoCoreError, ClientError, KeyError) as exc:  # KeyError: a binary secret has no SecretString
        raise SecretError(f"cannot read {scheme}:{name} ({type(exc).__name__})") from None
