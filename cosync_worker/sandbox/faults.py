"""Fault injection for every emulator: a share of server errors and a throttling storm, switched on and off at
run time through ``/_sandbox/faults``.

The middleware sits in front of the emulated service, so an injected fault answers before the request takes
effect (no half-applied state) and before any quota is drawn (an injected 429 costs the client no budget).
Each emulator renders the fault in its own service's error shape (see ``Emulator.fault_response``); the
``/_sandbox/`` operator API is never affected.

Operator API:

* ``POST /_sandbox/faults`` ``{"error_rate": 0.1, "storm": {"seconds": 3, "retry_after": 1}, "seed": 7}``:
  every key is optional; given keys replace the current setting (``error_rate`` and ``seed`` persist, a storm
  starts now and ends by itself). ``"targets": [{"method": "PATCH", "path": "/crm/v3/objects/deals/42"}]``
  answers every request of that method and exact path with a server error until cleared: a test then knows
  which call fails, without a rate to hope for.
* ``DELETE /_sandbox/faults``: no more faults (counters are kept).
* ``GET /_sandbox/faults``: the settings and the counters of faults injected so far.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

__all__ = ["Fault", "FaultInjector", "FaultRenderer"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Kind = Literal["error", "throttle"]


@dataclass(frozen=True)
class Fault:
    """What to answer instead of serving the request: a server error or a throttle with ``retry_after`` s."""

    kind: Kind
    retry_after: int = 1


FaultRenderer = Callable[[web.Request, Fault], web.Response]


class FaultInjector:
    """Decides, per API request, whether to inject a fault; the emulator renders it in its service's shape."""

    def __init__(self, render: FaultRenderer, seed: int | None = None) -> None:
        self.render = render
        self.error_rate = 0.0
        self.storm_until = 0.0
        self.storm_rate = 1.0
        self.retry_after = 1
        self.seed = seed
        self.rng = random.Random(seed)
        # "error" / "throttle" totals and "<kind> <call>" per call, e.g. "throttle POST /crm/v3/objects/deals"
        self.injected: Counter[str] = Counter()
        self.targets: set[tuple[str, str]] = set()  # (method, exact path): always a server error

    # -- switching ------------------------------------------------------------------------------------
    def configure(
        self,
        *,
        error_rate: float | None = None,
        storm_seconds: float | None = None,
        retry_after: int | None = None,
        storm_rate: float | None = None,
        seed: int | None = None,
    ) -> None:
        """Change the given settings; a storm of ``storm_seconds`` starts now."""
        if error_rate is not None:
            if not 0.0 <= error_rate <= 1.0:
                raise ValueError("error_rate must be between 0 and 1")
            self.error_rate = error_rate
        if storm_rate is not None:
            if not 0.0 < storm_rate <= 1.0:
                raise ValueError("storm.rate must be above 0 and at most 1")
            self.storm_rate = storm_rate
        if retry_after is not None:
            if retry_after < 0:
                raise ValueError("storm.retry_after must not be negative")
            self.retry_after = retry_after
        if storm_seconds is not None:
            if storm_seconds < 0:
                raise ValueError("storm.seconds must not be negative")
            self.storm_until = time.monotonic() + storm_seconds
        if seed is not None:
            self.seed = seed
            self.rng = random.Random(seed)

    def clear(self) -> None:
        self.error_rate = 0.0
        self.storm_until = 0.0
        self.targets = set()

    def target(self, method: str, path: str) -> None:
        """Answer every ``method`` request of exactly ``path`` with a server error until :meth:`clear`."""
        self.targets.add((method.upper(), path))

    @property
    def storming(self) -> bool:
        return time.monotonic() < self.storm_until

    def decide(self, method: str = "", path: str = "") -> Fault | None:
        """The fault for the next request, or None to serve it. A target wins, then the storm, then the
        share of server errors."""
        if (method.upper(), path) in self.targets:
            return Fault("error")
        if self.storming and self.rng.random() < self.storm_rate:
            return Fault("throttle", self.retry_after)
        if self.error_rate and self.rng.random() < self.error_rate:
            return Fault("error")
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "storm": {
                "active": self.storming,
                "seconds_left": round(max(0.0, self.storm_until - time.monotonic()), 3),
                "retry_after": self.retry_after,
                "rate": self.storm_rate,
            },
            "seed": self.seed,
            "targets": [{"method": m, "path": p} for m, p in sorted(self.targets)],
            "injected": dict(self.injected),
        }

    # -- aiohttp --------------------------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sandbox/"):
            return await handler(request)
        fault = self.decide(request.method, request.path)
        if fault is None:
            return await handler(request)
        self.injected[fault.kind] += 1
        self.injected[f"{fault.kind} {call_name(request)}"] += 1
        return self.render(request, fault)

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/_sandbox/faults", self._get)
        router.add_post("/_sandbox/faults", self._post)
        router.add_delete("/_sandbox/faults", self._delete)

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def _post(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            unknown = sorted(set(body) - {"error_rate", "storm", "seed", "targets"})
            if unknown:
                raise ValueError(
                    f"unknown field(s) {', '.join(unknown)}; allowed: error_rate, storm, seed, targets"
                )
            targets = _targets(body.get("targets"))
            storm = body.get("storm") or {}
            if not isinstance(storm, dict) or set(storm) - {"seconds", "retry_after", "rate"}:
                raise ValueError("storm must be an object with seconds, retry_after and rate")
            self.configure(
                error_rate=_number(body.get("error_rate"), "error_rate"),
                storm_seconds=_number(storm.get("seconds"), "storm.seconds"),
                retry_after=_integer(storm.get("retry_after"), "storm.retry_after"),
                storm_rate=_number(storm.get("rate"), "storm.rate"),
                seed=_integer(body.get("seed"), "seed"),
            )
            for method, path in targets:
                self.target(method, path)
        except ValueError as exc:  # json's decode error is a ValueError too
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.snapshot())

    async def _delete(self, request: web.Request) -> web.Response:
        self.clear()
        return web.json_response(self.snapshot())


def call_name(request: web.Request) -> str:
    """AWS JSON services name the operation in ``X-Amz-Target``; everything else by method and path."""
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.rpartition(".")[2]
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource is not None else request.path}"


def _targets(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("targets must be a list of {method, path} objects")
    found = []
    for i, item in enumerate(value):
        if (
            not isinstance(item, dict)
            or set(item) != {"method", "path"}
            or not all(isinstance(item[k], str) and item[k] for k in ("method", "path"))
        ):
            raise ValueError(f"targets[{i}] must be an object with a method and a path (non-empty text)")
        found.append((item["method"], item["path"]))
    return found


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


def _integer(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value
