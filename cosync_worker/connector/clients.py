"""Opening and closing the clients a connector declared: in declaration order, closed in reverse, and
every one already opened is closed even when a later one fails to open or an earlier one fails to close."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from ..hooks import maybe_await
from ..logs import get_logger

__all__ = ["OpenClients"]

log = get_logger("cosync.connector")


class OpenClients:
    """The clients of one connector while it runs, by declared name."""

    def __init__(self, connector: str) -> None:
        self.connector = connector
        self.by_name: dict[str, Any] = {}
        self._stack: AsyncExitStack | None = None

    async def open(self, factories: list[tuple[str, Callable[[], Any]]]) -> None:
        stack = AsyncExitStack()
        try:
            for name, factory in factories:
                made = await maybe_await(factory())
                self.by_name[name] = await self._enter(stack, name, made)
        except BaseException:
            self.by_name.clear()
            await stack.aclose()
            raise
        self._stack = stack

    async def close(self) -> None:
        stack, self._stack = self._stack, None
        self.by_name.clear()
        if stack is not None:
            await stack.aclose()

    async def _enter(self, stack: AsyncExitStack, name: str, made: Any) -> Any:
        if callable(getattr(made, "open", None)) and callable(getattr(made, "close", None)):
            await maybe_await(made.open())
            stack.push_async_callback(self._closing, name, made.close)
            return made
        if callable(getattr(made, "__aenter__", None)):
            entered = await made.__aenter__()
            stack.push_async_callback(self._closing, name, lambda: made.__aexit__(None, None, None))
            return entered
        if callable(getattr(made, "close", None)):
            stack.push_async_callback(self._closing, name, made.close)
        return made

    async def _closing(self, name: str, close: Callable[[], Awaitable[Any] | Any]) -> None:
        # One client failing to close must not leave the others open: log it and go on.
        try:
            await maybe_await(close())
        except Exception as exc:
            log.warning(
                "client_close_failed", connector=self.connector, client=name, error=type(exc).__name__
            )
