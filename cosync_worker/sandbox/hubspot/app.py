"""The HubSpot CRM emulator: CRM objects v3, associations v4, properties, owners, pipelines, bearer-token
auth, HubSpot's rate limits and signed outgoing webhooks.

Two tokens: ``access_token`` is the app (changes attributed ``INTEGRATION`` / ``str(app_id)``) and
``user_token`` is a rep clicking in the HubSpot UI (``CRM_UI`` / ``userId:<first owner's userId>``).

Operator API (not HubSpot): ``POST /_sandbox/webhooks`` ``{"target_url", "subscriptions": [...]}``,
``GET /_sandbox/webhooks/deliveries``, plus the base class's ``/_sandbox/calls`` and ``/_sandbox/reset``
(reset keeps webhook subscriptions: they are configuration, not CRM state).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from ..base import Emulator, Handler
from ..faults import Fault
from .catalog import OWNERS, resolve_object_type
from .crm_meta import MetaRoutes
from .crm_objects import ObjectRoutes
from .errors import HubSpotError, error_body
from .objects import Actor, Portal
from .ratelimit import RateLimiter, throttled
from .requests import ACTOR, json_object
from .webhooks import Subscription, WebhookDispatcher

__all__ = ["HubSpotEmulator"]

# https://developers.hubspot.com/docs/api/intro-to-auth -- body HubSpot returns without a valid token
MISSING_AUTH = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


class HubSpotEmulator(Emulator):
    """In-process HubSpot CRM; see the module docstring."""

    name = "hubspot"

    def __init__(
        self,
        *,
        access_token: str = "sandbox-hubspot-token",
        user_token: str = "sandbox-hubspot-user-token",
        client_secret: str = "sandbox-hubspot-secret",
        app_id: int = 424242,
        portal_id: int = 62515,
        burst_limit: int = 100,
        burst_window_seconds: float = 10.0,
        search_per_second: int = 5,
        webhook_batch_size: int = 100,
        webhook_flush_seconds: float = 0.2,
        webhook_max_attempts: int = 10,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        user_id = int(OWNERS[0]["userId"])
        self.access_token = access_token
        self.user_token = user_token
        self.client_secret = client_secret
        self.actors = {
            access_token: Actor("INTEGRATION", str(app_id)),
            user_token: Actor("CRM_UI", f"userId:{user_id}", user_id),
        }
        self.portal = Portal()
        self.limiter = RateLimiter(burst_limit, burst_window_seconds, search_per_second)
        self.webhooks = WebhookDispatcher(
            client_secret=client_secret,
            app_id=app_id,
            portal_id=portal_id,
            batch_size=webhook_batch_size,
            flush_seconds=webhook_flush_seconds,
            max_attempts=webhook_max_attempts,
        )
        super().__init__(host=host, port=port)

    # -- public API -----------------------------------------------------------------------------
    def subscribe(self, target_url: str, subscription_types: Iterable[str]) -> Subscription:
        """Send events of ``subscription_types`` (``deal.creation``, ...) to ``target_url``."""
        return self.webhooks.subscribe(target_url, subscription_types)

    def unsubscribe(self, subscription: Subscription) -> None:
        """No more events for ``subscription`` (what was already queued for it is still delivered)."""
        self.webhooks.unsubscribe(subscription)

    def objects(self, object_type: str) -> dict[str, dict[str, Any]]:
        """Live (not archived) records of ``object_type`` by id; direct state access, not counted."""
        name = resolve_object_type(object_type).name
        return {record_id: record.as_dict() for record_id, record in self.portal.records[name].items()}

    async def drain_webhooks(self) -> None:
        """Wait until every queued webhook event was delivered or given up on."""
        await self.webhooks.drain()

    # -- Emulator hooks -------------------------------------------------------------------------
    def setup_routes(self, router: web.UrlDispatcher) -> None:
        self.app.middlewares.append(self._hubspot_middleware)
        router.add_post("/_sandbox/webhooks", self._subscribe)
        router.add_get("/_sandbox/webhooks/deliveries", self._deliveries)
        ObjectRoutes(self).register(router)
        MetaRoutes(self).register(router)
        self._accept_trailing_slashes(router)

    def reset(self) -> None:
        self.portal = Portal()
        self.limiter.clear()
        self.webhooks.forget()

    def fault_response(self, request: web.Request, fault: Fault) -> web.Response:
        if fault.kind == "throttle":
            return throttled(fault.retry_after, "ten_secondly_rolling").response()
        # Server-side failures and timeouts HubSpot answers with (error handling section of
        # https://developers.hubspot.com/docs/api/overview): any of 500, 502, 503, 504, in its JSON shape.
        status = self.faults.rng.choice((500, 502, 503, 504))
        body = error_body("INTERNAL_ERROR", "internal error (injected by the cosync sandbox)")
        return web.json_response(body, status=status)

    async def start(self) -> str:
        url = await super().start()
        self.webhooks.start()
        return url

    async def stop(self) -> None:
        await self.webhooks.stop()
        await super().stop()

    # -- internals ------------------------------------------------------------------------------
    def _accept_trailing_slashes(self, router: web.UrlDispatcher) -> None:
        """Serve every HubSpot route with a trailing slash too, as HubSpot does: its own SDK asks for
        ``GET /crm/v3/owners/``. The call is counted under the route's name without the slash."""
        for resource in list(router.resources()):
            template = resource.canonical
            if template.startswith("/_sandbox/") or template.endswith("/"):
                continue
            for route in list(resource):
                router.add_route(
                    route.method, template + "/", self._counted_as(route.method, template, route.handler)
                )

    def _counted_as(self, method: str, template: str, handler: Handler) -> Handler:
        async def serve(request: web.Request) -> web.StreamResponse:
            self.count(request, f"{method} {template}")
            return await handler(request)

        return serve

    @web.middleware
    async def _hubspot_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sandbox/"):
            try:
                return await handler(request)
            except HubSpotError as exc:
                return exc.response()
        headers: dict[str, str] = {}
        try:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            who = self.actors.get(token) if scheme.lower() == "bearer" else None
            if who is None:
                raise HubSpotError(401, "INVALID_AUTHENTICATION", MISSING_AUTH)
            request[ACTOR] = who
            is_search = request.method == "POST" and request.path.endswith("/search")
            headers = self.limiter.admit(token, is_search)
            response = await handler(request)
        except HubSpotError as exc:
            response = exc.response()
        except web.HTTPMethodNotAllowed as exc:
            response = web.json_response(
                error_body("VALIDATION_ERROR", f"Method {request.method} is not allowed on {request.path}"),
                status=exc.status,
            )
        except web.HTTPNotFound:
            response = web.json_response(
                error_body("OBJECT_NOT_FOUND", f"No HubSpot API at {request.path}"), status=404
            )
        except Exception as exc:  # a bug in the emulator: still answer in HubSpot's shape, naming it
            response = web.json_response(
                error_body("INTERNAL_ERROR", f"sandbox emulator bug: {type(exc).__name__}: {exc}"), status=500
            )
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        return response

    async def _subscribe(self, request: web.Request) -> web.Response:
        body = await json_object(request, "target_url", "subscriptions")
        target, types = body["target_url"], body["subscriptions"]
        if not isinstance(target, str) or not isinstance(types, list):
            raise HubSpotError(
                400, "VALIDATION_ERROR", "target_url must be a string and subscriptions a list"
            )
        try:
            sub = self.webhooks.subscribe(target, types)
        except (ValueError, TypeError) as exc:
            raise HubSpotError(400, "VALIDATION_ERROR", str(exc)) from None
        return web.json_response(
            {"subscriptionId": sub.id, "target_url": target, "subscriptions": sorted(sub.types)}
        )

    async def _deliveries(self, request: web.Request) -> web.Response:
        s = self.webhooks.stats
        return web.json_response(
            {
                "delivered": s.delivered_events,
                "failed": s.failed_events,
                "delivered_batches": s.delivered_batches,
                "failed_attempts": s.failed_attempts,
            }
        )
