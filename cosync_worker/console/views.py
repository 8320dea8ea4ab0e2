"""The console's pages. Every action calls what the API and the CLI call: the mounted ``POST
/conflicts/resolve`` and ``POST /rollback`` handlers, the queue's dead-letter replay (``cosync dlq replay``),
the webhook intake for "sync now"; each is audited with the signed-in user."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import jinja2
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ..conflicts import ConflictBook
from ..conflicts.book import CONFLICTS_AUDIT_KEY
from ..hooks import BODY_KEY, RouteSpec
from ..relay.auth import IDENTITY_KEY, identify
from ..relay.deal_sync import queue_deal_sync
from ..relay.jobs import get_job
from ..relay.keys import CONTEXT, INTAKE, PLUGINS, QUEUE, SETTINGS, STORE
from ..relay.problems import ProblemError
from ..status import build_status, dead_letter_connectors
from ..status_view import ago
from ..store import AuditEntry
from .deals import audit_key_of, find_deals, read_deal, timeline
from .redact import redact_body, secret_values
from .session import Session, check_csrf, current_session, end_session, start_session

__all__ = ["ROUTE_SPECS", "add_pages"]

ROUTE_SPECS: web.AppKey[dict[tuple[str, str], RouteSpec]] = web.AppKey("cosync_console_routes")
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("cosync_console_templates")
AUDIT_PAGE = 50
_DLQ_LIMIT = 500
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Page = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cosync_worker.console", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = _when
    env.filters["ago"] = ago
    env.filters["pretty"] = lambda v: json.dumps(v, indent=1, sort_keys=True, default=str)
    return env


def render(
    request: web.Request, name: str, session: Session | None, status: int = 200, **values: Any
) -> web.Response:
    template = request.app[TEMPLATES].get_template(name)
    body = template.render(session=session, now=time.time(), **values)
    return web.Response(text=body, status=status, content_type="text/html", headers=_HEADERS)


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, **_HEADERS})


def page(handler: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Signed-in only; a GET shows the page, anything else must carry the session's CSRF token and an
    admin's role."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        session = await current_session(request)
        if session is None:
            if request.method == "GET":
                return _see_other("/console/signin")
            return render(request, "error.html", None, 401, message="sign in first")
        if request.method != "GET":
            form = await request.post()
            if not check_csrf(session, form.get("csrf")):
                return render(request, "error.html", session, 403, message="the form's CSRF token is missing")
            if not session.identity.can_act:
                return render(
                    request, "error.html", session, 403, message="your role (viewer) may look, not act"
                )
        return await handler(request, session)

    return wrapped


async def _audit(request: web.Request, session: Session, key: str, action: str, **detail: Any) -> None:
    await request.app[STORE].append_audit(
        AuditEntry(
            object_key=key,
            system="console",
            action=action,
            detail=detail,
            actor=session.identity.user,
            at=time.time(),
        )
    )


async def call_route(
    request: web.Request, session: Session, method: str, path: str, data: dict[str, Any]
) -> tuple[int, Any]:
    """Run the mounted API route ``method path`` on ``data`` as its body, as the signed-in user: its own
    validation, governance (who may act), answers and errors (``(status, body)``), without a second copy of
    what it does."""
    spec = request.app[ROUTE_SPECS].get((method, path))
    if spec is None or spec.body_model is None:
        return 404, {"detail": f"{path} is not served by this relay"}
    model: type[BaseModel] = spec.body_model
    try:
        request[BODY_KEY] = model.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors())
        return 422, {"detail": f"check {fields}"}
    # The route reads its caller from what the bearer check sets; here the session stands for the token.
    request[IDENTITY_KEY] = session.identity
    try:
        response = await spec.handler(request)
    except ProblemError as exc:
        return exc.status, {"detail": exc.detail}
    body = response.body if isinstance(response, web.Response) else None
    return response.status, json.loads(body) if isinstance(body, bytes) else {}


# -- sign-in ----------------------------------------------------------------------------------------------


async def signin_form(request: web.Request) -> web.StreamResponse:
    return render(request, "signin.html", None)


async def signin(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token = form.get("token")
    identity = (
        identify(token.strip(), request.app[SETTINGS].relay.api_tokens) if isinstance(token, str) else None
    )
    if identity is None:
        return render(request, "signin.html", None, 401, message="that token is not valid")
    response = _see_other("/console")
    await start_session(request, response, identity)
    return response


@page
async def signout(request: web.Request, session: Session) -> web.StreamResponse:
    response = _see_other("/console/signin")
    await end_session(request, response)
    return response


# -- pages ------------------------------------------------------------------------------------------------


@page
async def overview(request: web.Request, session: Session) -> web.StreamResponse:
    app = request.app
    report = await build_status(
        app[SETTINGS], app[QUEUE], app[STORE], app[PLUGINS], app[CONTEXT].connector_configs
    )
    peak = max([1, *(max(p.events, p.writes) for p in report.chart)])
    return render(request, "overview.html", session, report=report, peak=peak)


@page
async def deals(request: web.Request, session: Session) -> web.StreamResponse:
    query = request.query.get("q", "")[:200]
    found = await find_deals(request.app[CONTEXT], request.app[PLUGINS], query)
    return render(request, "deals.html", session, deals=found, query=query)


def _deal_id(request: web.Request) -> str | None:
    deal_id = request.match_info["id"]
    return deal_id if deal_id.isdigit() and len(deal_id) <= 20 else None


@page
async def deal(request: web.Request, session: Session) -> web.StreamResponse:
    deal_id = _deal_id(request)
    found = None if deal_id is None else await read_deal(request.app[CONTEXT], request.app[PLUGINS], deal_id)
    if found is None:
        return render(request, "error.html", session, 404, message="no deal has this id")
    items, conflicts = await timeline(request.app[CONTEXT], found)
    return render(
        request,
        "deal.html",
        session,
        deal=found,
        items=items,
        conflicts=conflicts,
        audit_keys={
            c.connector: key
            for c in found.clouds
            if c.remote_id and (key := audit_key_of(c.connector, c.remote_id))
        },
        flash=request.query.get("flash", "")[:200],
    )


@page
async def sync_now(request: web.Request, session: Session) -> web.StreamResponse:
    """Queue the deal's push as ``POST /deals/{id}/sync`` does (``relay.deal_sync``): created where it is
    tagged and not synced yet, its changes sent elsewhere."""
    deal_id = _deal_id(request)
    found = None if deal_id is None else await read_deal(request.app[CONTEXT], request.app[PLUGINS], deal_id)
    if deal_id is None or found is None:
        return render(request, "error.html", session, 404, message="no deal has this id")
    events = await queue_deal_sync(request.app[INTAKE], deal_id, found.name, source="COSYNC_CONSOLE")
    await _audit(request, session, events[0].ordering_key, "sync_now", event_ids=[e.id for e in events])
    return _see_other(f"/console/deals/{deal_id}?flash=sync+queued")


@page
async def conflicts(request: web.Request, session: Session) -> web.StreamResponse:
    pending = await ConflictBook(request.app[STORE]).pending()
    return render(request, "conflicts.html", session, conflicts=pending)


@page
async def resolve(request: web.Request, session: Session) -> web.StreamResponse:
    form = await request.post()
    data: dict[str, Any] = {"conflictId": request.match_info["id"], "resolution": form.get("resolution")}
    if form.get("resolution") == "USE_CUSTOM_VALUE":
        data["value"] = form.get("value")
    if form.get("reason"):
        data["reason"] = form.get("reason")
    status, body = await call_route(request, session, "POST", "/conflicts/resolve", data)
    if status != 202:
        return render(request, "error.html", session, status, message=body.get("detail", "refused"))
    await _audit(
        request,
        session,
        CONFLICTS_AUDIT_KEY,
        "resolve_requested",
        id=data["conflictId"],
        resolution=data["resolution"],
        job_id=body["job_id"],
    )
    return _see_other(f"/console/jobs/{body['job_id']}")


@page
async def audit(request: web.Request, session: Session) -> web.StreamResponse:
    key = request.query.get("key", "")[:300]
    try:
        number = max(0, int(request.query.get("page", "0")))
    except ValueError:
        number = 0
    entries = await request.app[STORE].audit_trail(key, limit=(number + 1) * AUDIT_PAGE + 1) if key else []
    shown = entries[number * AUDIT_PAGE : (number + 1) * AUDIT_PAGE]
    rollback = next(
        (
            (connector, key.rsplit(":", 1)[1])
            for connector in request.app[CONTEXT].connector_configs
            if key and audit_key_of(connector, key.rsplit(":", 1)[1]) == key
        ),
        None,
    )
    return render(
        request,
        "audit.html",
        session,
        key=key,
        entries=shown,
        page=number,
        more=len(entries) > (number + 1) * AUDIT_PAGE,
        rollback=rollback,
    )


@page
async def rollback_confirm(request: web.Request, session: Session) -> web.StreamResponse:
    q = request.query
    return render(
        request,
        "rollback.html",
        session,
        connector=q.get("connector", "")[:64],
        opportunity=q.get("opportunity", "")[:64],
        at=q.get("at", "")[:32],
    )


@page
async def rollback(request: web.Request, session: Session) -> web.StreamResponse:
    form = await request.post()
    try:
        # An entry's time goes through ISO 8601 (microseconds) to the route: a millisecond later keeps the
        # entry itself at or before the target whatever the rounding.
        at = datetime.fromtimestamp(float(str(form.get("at", ""))) + 0.001, UTC)
    except (ValueError, OverflowError, OSError):
        return render(request, "error.html", session, 422, message="check the time to roll back to")
    data = {
        "opportunityId": form.get("opportunity"),
        "targetTimestamp": at.isoformat(),
        "connector": form.get("connector"),
    }
    status, body = await call_route(request, session, "POST", "/rollback", data)
    if status != 202:
        return render(request, "error.html", session, status, message=body.get("detail", "refused"))
    key = audit_key_of(str(data["connector"]), str(data["opportunityId"])) or "cosync:rollback"
    await _audit(request, session, key, "rollback_requested", target=at.isoformat(), job_id=body["job_id"])
    return _see_other(f"/console/jobs/{body['job_id']}")


@page
async def dead_letters(request: web.Request, session: Session) -> web.StreamResponse:
    letters = await request.app[QUEUE].list_dead_letters(_DLQ_LIMIT)
    names = [c.spec.name for c in request.app[PLUGINS].connectors()]
    rows = [(d, ", ".join(dead_letter_connectors(d, names)) or "-") for d in letters]
    return render(request, "dlq.html", session, rows=rows, flash=request.query.get("flash", "")[:200])


@page
async def dead_letter(request: web.Request, session: Session) -> web.StreamResponse:
    wanted = request.match_info["id"]
    letters = await request.app[QUEUE].list_dead_letters(_DLQ_LIMIT)
    found = next((d for d in letters if d.id == wanted), None)
    if found is None:
        return render(request, "error.html", session, 404, message="no dead letter has this id")
    context = request.app[CONTEXT]
    hidden = secret_values(request.app[SETTINGS], context.connector_configs.values())
    return render(request, "dlq_item.html", session, letter=found, body=redact_body(found.body, hidden))


@page
async def replay_confirm(request: web.Request, session: Session) -> web.StreamResponse:
    wanted = request.query.get("id", "")[:100]
    total = len(await request.app[QUEUE].list_dead_letters(_DLQ_LIMIT))
    return render(request, "replay.html", session, id=wanted, total=total)


@page
async def replay(request: web.Request, session: Session) -> web.StreamResponse:
    form = await request.post()
    wanted = str(form.get("id") or "")
    if form.get("confirm") != "yes":
        return render(request, "error.html", session, 422, message="confirm the replay first")
    moved = await request.app[QUEUE].replay_dead_letters([wanted] if wanted else None)
    await _audit(
        request, session, "cosync:dead-letters", "replay", ids=[wanted] if wanted else "all", moved=moved
    )
    return _see_other(f"/console/dlq?flash=replayed+{moved}+message(s)")


@page
async def job(request: web.Request, session: Session) -> web.StreamResponse:
    found = await get_job(request.app[STORE], request.match_info["id"][:64])
    if found is None:
        return render(request, "error.html", session, 404, message="no job has this id")
    return render(request, "job.html", session, job=found)


def add_pages(app: web.Application) -> None:
    app[TEMPLATES] = environment()
    add = app.router
    add.add_get("/console/signin", signin_form, allow_head=False)
    add.add_post("/console/signin", signin)
    add.add_post("/console/signout", signout)
    add.add_get("/console", overview, allow_head=False)
    add.add_get("/console/deals", deals, allow_head=False)
    add.add_get("/console/deals/{id}", deal, allow_head=False)
    add.add_post("/console/deals/{id}/sync", sync_now)
    add.add_get("/console/conflicts", conflicts, allow_head=False)
    add.add_post("/console/conflicts/{id}/resolve", resolve)
    add.add_get("/console/audit", audit, allow_head=False)
    add.add_get("/console/rollback", rollback_confirm, allow_head=False)
    add.add_post("/console/rollback", rollback)
    add.add_get("/console/dlq", dead_letters, allow_head=False)
    add.add_get("/console/dlq/replay", replay_confirm, allow_head=False)
    add.add_post("/console/dlq/replay", replay)
    add.add_get("/console/dlq/{id}", dead_letter, allow_head=False)
    add.add_get("/console/jobs/{id}", job, allow_head=False)
