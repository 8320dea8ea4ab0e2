"""CRM objects v3 routes: basic CRUD, list, batch and search for every type in :data:`OBJECT_TYPES`.

Shapes follow the CRM object specs (e.g. https://developers.hubspot.com/docs/api/crm/deals and
/work/shared/specs/hubspot/deals-v3.json). ``{objectType}`` may be ``deals``, ``deal`` or ``0-3``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .catalog import ASSOCIATION_TYPES, OBJECT_TYPES, resolve_object_type
from .errors import HubSpotError, validation_error
from .objects import Actor, Record
from .requests import actor, inputs, int_param, json_object, list_param, str_list
from .search import search
from .values import iso_now

if TYPE_CHECKING:
    from .app import HubSpotEmulator

__all__ = ["ObjectRoutes"]

_STAMPS = {"createdate", "hs_createdate", "hs_lastmodifieddate", "lastmodifieddate", "hs_object_id"}
_WEBHOOK_TYPES = {"deals", "contacts", "companies"}


def _batch(
    results: list[dict[str, Any]], started: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso_now(),
    }
    if errors:
        body["errors"] = errors
        body["numErrors"] = len(errors)
    return body


class ObjectRoutes:
    def __init__(self, emulator: HubSpotEmulator) -> None:
        self.emu = emulator

    def register(self, router: web.UrlDispatcher) -> None:
        base = "/crm/v3/objects/{objectType}"
        router.add_post(base + "/search", self.search)
        router.add_post(base + "/batch/read", self.batch_read)
        router.add_post(base + "/batch/create", self.batch_create)
        router.add_post(base + "/batch/update", self.batch_update)
        router.add_post(base + "/batch/archive", self.batch_archive)
        router.add_get(base, self.list)
        router.add_post(base, self.create)
        router.add_get(base + "/{objectId}", self.get)
        router.add_patch(base + "/{objectId}", self.update)
        router.add_delete(base + "/{objectId}", self.archive)

    # -- helpers --------------------------------------------------------------------------------
    def _render_args(self, request: web.Request) -> dict[str, Any]:
        return {
            "properties": list_param(request, "properties") or None,
            "with_history": list_param(request, "propertiesWithHistory") or None,
            "associations": list_param(request, "associations") or None,
        }

    def _emit(self, record: Record, changed: dict[str, str], who: Actor, created: bool) -> None:
        if record.object_type not in _WEBHOOK_TYPES:
            return
        prefix = OBJECT_TYPES[record.object_type].singular
        hooks = self.emu.webhooks
        if created:
            hooks.emit(f"{prefix}.creation", record.id, who)
        for name, value in changed.items():
            if name not in _STAMPS:
                hooks.emit(
                    f"{prefix}.propertyChange", record.id, who, property_name=name, property_value=value
                )

    def _create(self, object_type: str, item: Any, who: Actor) -> Record:
        if not isinstance(item, dict):
            raise validation_error("Invalid input JSON: each input must be an object")
        props = self.emu.portal.check(object_type, item.get("properties", {}))
        links = self._check_associations(object_type, item.get("associations") or [])
        record = self.emu.portal.create(object_type, props, who)
        for to_type, to_id, type_ids in links:
            self.emu.portal.associate(object_type, record.id, to_type, to_id, type_ids)
        self._emit(record, props, who, created=True)
        return record

    def _check_associations(self, object_type: str, raw: Any) -> list[tuple[str, str, list[int]]]:
        """Inline associations on create: target must exist, type ids must fit the pair."""
        if not isinstance(raw, list):
            raise validation_error("associations must be a list")
        links: list[tuple[str, str, list[int]]] = []
        for item in raw:
            to = item.get("to") if isinstance(item, dict) else None
            types = item.get("types") if isinstance(item, dict) else None
            if not isinstance(to, dict) or not isinstance(types, list) or not types:
                raise validation_error("each association needs 'to': {'id'} and a non-empty 'types' list")
            to_id = str(to.get("id", ""))
            raw_ids = [t.get("associationTypeId") if isinstance(t, dict) else None for t in types]
            type_ids = [t for t in raw_ids if isinstance(t, int) and not isinstance(t, bool)]
            if len(type_ids) != len(raw_ids):
                raise validation_error("each association type needs an integer 'associationTypeId'")
            spec = ASSOCIATION_TYPES.get(type_ids[0])
            if spec is None or spec[0] != object_type:
                raise validation_error(
                    f"{type_ids[0]} is not a valid association type id from {object_type}",
                    associationTypeId=[str(type_ids[0])],
                )
            to_type = spec[1]
            if to_id not in self.emu.portal.records[to_type]:
                raise HubSpotError(
                    400,
                    "VALIDATION_ERROR",
                    f"One or more associations are invalid: {to_type} {to_id} does not exist",
                    context={"id": [to_id]},
                )
            links.append((to_type, to_id, type_ids))
        return links

    # -- basic ----------------------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        object_type = resolve_object_type(request.match_info["objectType"]).name
        body = await json_object(request, "properties")
        record = self._create(object_type, body, actor(request))
        return web.json_response(self.emu.portal.render(record), status=201)

    async def get(self, request: web.Request) -> web.Response:
        object_type = resolve_object_type(request.match_info["objectType"]).name
        id_property = request.query.get("idProperty")
        record = self.emu.portal.get(object_type, request.match_info["objectId"], id_property)
        return web.json_response(self.emu.portal.render(record, **self._render_args(request)))

    async def update(self, request: web.Request) -> web.Response:
        object_type = resolve_object_type(request.match_info["objectType"]).name
        body = await json_object(request, "properties")
        record = self.emu.portal.get(
            object_type, request.match_info["objectId"], request.query.get("idProperty")
        )
        props = self.emu.portal.check(object_type, body["properties"])
        changed = self.emu.portal.update(record, props, actor(request))
        self._emit(record, changed, actor(request), created=False)
        return web.json_response(self.emu.portal.render(record))

    async def archive(self, request: web.Request) -> web.Response:
        object_type = resolve_object_type(request.match_info["objectType"]).name
        self._archive(object_type, request.match_info["objectId"], actor(request))
        return web.Response(status=204)

    def _archive(self, object_type: str, object_id: str, who: Actor) -> None:
        # HubSpot answers 204 for an id that is already gone, so the call is idempotent.
        record = self.emu.portal.archive(object_type, object_id)
        if record is not None and object_type in _WEBHOOK_TYPES:
            self.emu.webhooks.emit(f"{OBJECT_TYPES[object_type].singular}.deletion", record.id, who)

    async def list(self, request: web.Request) -> web.Response:
        object_type = resolve_object_type(request.match_info["objectType"]).name
        limit = int_param(request, "limit", 10, 100)
        after = request.query.get("after", "0")
        if not after.isdigit():
            raise validation_error(f"Invalid 'after' paging cursor {after!r}", after=[after])
        archived = request.query.get("archived", "false").lower() == "true"
        pool = self.emu.portal.archived if archived else self.emu.portal.records
        records = sorted(pool[object_type].values(), key=lambda r: int(r.id))
        # the cursor is the last id served: stable while records are added or removed
        page = [r for r in records if int(r.id) > int(after)][:limit]
        body: dict[str, Any] = {
            "results": [self.emu.portal.render(r, **self._render_args(request)) for r in page]
        }
        if page and int(page[-1].id) < int(records[-1].id):
            body["paging"] = {"next": {"after": page[-1].id, "link": f"?after={page[-1].id}"}}
        return web.json_response(body)

    # -- batch ----------------------------------------------------------------------------------
    async def batch_read(self, request: web.Request) -> web.Response:
        started = iso_now()
        object_type = resolve_object_type(request.match_info["objectType"]).name
        body = await json_object(request, "inputs")
        items = inputs(body)
        id_property = body.get("idProperty")
        if id_property is not None and not isinstance(id_property, str):
            raise validation_error("idProperty must be a string")
        if id_property:
            self.emu.portal.require_unique(object_type, id_property)
        properties = str_list(body, "properties") or None
        history = str_list(body, "propertiesWithHistory") or None
        results, missing = [], []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise validation_error("each input needs an 'id' string")
            try:
                record = self.emu.portal.get(object_type, item["id"], id_property)
            except HubSpotError:
                missing.append(item["id"])
                continue
            results.append(self.emu.portal.render(record, properties, history))
        if not missing:
            return web.json_response(_batch(results, started))
        error = {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some " + object_type + " objects, they may be deleted or not exist.",
            "context": {"ids": missing},
            "errors": [],
            "links": {},
        }
        return web.json_response(_batch(results, started, [error]), status=207)

    async def batch_create(self, request: web.Request) -> web.Response:
        started = iso_now()
        object_type = resolve_object_type(request.match_info["objectType"]).name
        items = inputs(await json_object(request, "inputs"))
        # validate all first: HubSpot rejects the whole batch when one input is bad
        for item in items:
            if not isinstance(item, dict):
                raise validation_error("Invalid input JSON: each input must be an object")
            self.emu.portal.check(object_type, item.get("properties", {}))
            self._check_associations(object_type, item.get("associations") or [])
        records = [self._create(object_type, item, actor(request)) for item in items]
        return web.json_response(_batch([self.emu.portal.render(r) for r in records], started), status=201)

    async def batch_update(self, request: web.Request) -> web.Response:
        started = iso_now()
        object_type = resolve_object_type(request.match_info["objectType"]).name
        items = inputs(await json_object(request, "inputs"))
        planned: list[tuple[Record, dict[str, str]]] = []
        missing: list[str] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise validation_error("each input needs an 'id' string and 'properties'")
            props = self.emu.portal.check(object_type, item.get("properties", {}))
            try:
                planned.append((self.emu.portal.get(object_type, item["id"], item.get("idProperty")), props))
            except HubSpotError:
                missing.append(item["id"])
        if missing:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"Could not get some {object_type} objects, they may be deleted or not exist: {', '.join(missing)}",
                context={"ids": missing},
            )
        who = actor(request)
        for record, props in planned:
            self._emit(record, self.emu.portal.update(record, props, who), who, created=False)
        return web.json_response(_batch([self.emu.portal.render(r) for r, _ in planned], started))

    async def batch_archive(self, request: web.Request) -> web.Response:
        object_type = resolve_object_type(request.match_info["objectType"]).name
        items = inputs(await json_object(request, "inputs"))
        ids = [item.get("id") if isinstance(item, dict) else None for item in items]
        if not all(isinstance(i, str) for i in ids):
            raise validation_error("each input needs an 'id' string")
        for object_id in ids:
            self._archive(object_type, str(object_id), actor(request))
        return web.Response(status=204)

    # -- search ---------------------------------------------------------------------------------
    async def search(self, request: web.Request) -> web.Response:
        object_type = resolve_object_type(request.match_info["objectType"]).name
        body = await json_object(request)
        definitions = self.emu.portal.properties[object_type]
        kinds = {name: d["type"] for name, d in definitions.items()}
        properties = str_list(body, "properties") or None
        page, total, start = search(list(self.emu.portal.records[object_type].values()), body, kinds)
        result: dict[str, Any] = {
            "total": total,
            "results": [self.emu.portal.render(r, properties) for r in page],
        }
        if start + len(page) < total:
            result["paging"] = {"next": {"after": str(start + len(page))}}
        return web.json_response(result)
