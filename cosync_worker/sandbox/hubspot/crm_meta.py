"""Associations v4, properties v3, owners v3 and pipelines v3 routes.

https://developers.hubspot.com/docs/api/crm/associations/v4 , .../crm/properties , .../crm/owners ,
.../crm/pipelines (shapes as in /work/shared/specs/hubspot/*.json).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .catalog import ASSOCIATION_TYPES, DEAL_STAGES, OBJECT_TYPES, OWNERS, resolve_object_type
from .errors import HubSpotError, validation_error
from .requests import actor, inputs, int_param, json_body, json_object
from .values import iso_now

if TYPE_CHECKING:
    from .app import HubSpotEmulator

__all__ = ["MetaRoutes"]

_EPOCH = "2024-01-01T00:00:00.000Z"
_PROPERTY_TYPES = ("bool", "date", "datetime", "enumeration", "number", "phone_number", "string")


def _spec_with_label(type_id: int) -> dict[str, Any]:
    label = ASSOCIATION_TYPES[type_id][3]
    spec: dict[str, Any] = {"category": "HUBSPOT_DEFINED", "typeId": type_id}
    if label:
        spec["label"] = label
    return spec


def _pipeline() -> dict[str, Any]:
    stages = [
        {
            "id": stage_id,
            "label": label,
            "displayOrder": i,
            "metadata": {"probability": probability, "isClosed": str(stage_id.startswith("closed")).lower()},
            "archived": False,
            "createdAt": _EPOCH,
            "updatedAt": _EPOCH,
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        }
        for i, (stage_id, label, probability) in enumerate(DEAL_STAGES)
    ]
    return {
        "id": "default",
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "stages": stages,
        "archived": False,
        "createdAt": _EPOCH,
        "updatedAt": _EPOCH,
    }


class MetaRoutes:
    def __init__(self, emulator: HubSpotEmulator) -> None:
        self.emu = emulator

    def register(self, router: web.UrlDispatcher) -> None:
        v4 = "/crm/v4/objects/{objectType}/{objectId}/associations"
        router.add_get(v4 + "/{toObjectType}", self.list_associations)
        router.add_put(v4 + "/default/{toObjectType}/{toObjectId}", self.associate_default)
        router.add_put(v4 + "/{toObjectType}/{toObjectId}", self.associate_labelled)
        router.add_delete(v4 + "/{toObjectType}/{toObjectId}", self.dissociate)
        router.add_post(
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read", self.batch_read_associations
        )
        props = "/crm/v3/properties/{objectType}"
        router.add_get(props + "/groups", self.list_groups)
        router.add_post(props + "/groups", self.create_group)
        router.add_post(props + "/batch/create", self.batch_create_properties)
        router.add_post(props + "/batch/read", self.batch_read_properties)
        router.add_get(props, self.list_properties)
        router.add_post(props, self.create_property)
        router.add_get(props + "/{propertyName}", self.get_property)
        router.add_patch(props + "/{propertyName}", self.update_property)
        router.add_get("/crm/v3/owners", self.list_owners)
        router.add_get("/crm/v3/owners/{ownerId}", self.get_owner)
        router.add_get("/crm/v3/pipelines/{objectType}", self.list_pipelines)
        router.add_get("/crm/v3/pipelines/{objectType}/{pipelineId}", self.get_pipeline)
        router.add_get("/crm/v3/pipelines/{objectType}/{pipelineId}/stages", self.list_stages)

    # -- associations ---------------------------------------------------------------------------
    def _pair(self, request: web.Request) -> tuple[str, str, str, str]:
        m = request.match_info
        return (
            resolve_object_type(m["objectType"]).name,
            m["objectId"],
            resolve_object_type(m["toObjectType"]).name,
            m.get("toObjectId", ""),
        )

    async def list_associations(self, request: web.Request) -> web.Response:
        from_type, from_id, to_type, _ = self._pair(request)
        self.emu.portal.get(from_type, from_id)
        limit = int_param(request, "limit", 500, 500)
        after = request.query.get("after", "0")
        if not after.isdigit():
            raise validation_error(f"Invalid 'after' paging cursor {after!r}")
        linked = sorted(
            self.emu.portal.associated(from_type, from_id, to_type).items(), key=lambda kv: int(kv[0])
        )
        page = linked[int(after) : int(after) + limit]
        body: dict[str, Any] = {
            "results": [
                {"toObjectId": to_id, "associationTypes": [_spec_with_label(t) for t in sorted(types)]}
                for to_id, types in page
            ]
        }
        if int(after) + limit < len(linked):
            body["paging"] = {"next": {"after": str(int(after) + limit)}}
        return web.json_response(body)

    async def associate_default(self, request: web.Request) -> web.Response:
        started = iso_now()
        from_type, from_id, to_type, to_id = self._pair(request)
        type_id = self.emu.portal.associate_default(from_type, from_id, to_type, to_id)
        self._emit_association(request, from_type, from_id, to_type, to_id, removed=False)
        inverse = ASSOCIATION_TYPES[type_id][2]
        results = [
            {
                "from": {"id": from_id},
                "to": {"id": to_id},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
            },
            {
                "from": {"id": to_id},
                "to": {"id": from_id},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": inverse},
            },
        ]
        return web.json_response(
            {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso_now()}
        )

    async def associate_labelled(self, request: web.Request) -> web.Response:
        from_type, from_id, to_type, to_id = self._pair(request)
        body = await json_body(request)
        if not isinstance(body, list) or not body:
            raise validation_error("Invalid input JSON: expected a non-empty list of association specs")
        type_ids: list[int] = []
        for spec in body:
            if not isinstance(spec, dict) or not isinstance(spec.get("associationTypeId"), int):
                raise validation_error("each association spec needs an integer 'associationTypeId'")
            type_ids.append(spec["associationTypeId"])
        self.emu.portal.associate(from_type, from_id, to_type, to_id, type_ids)
        self._emit_association(request, from_type, from_id, to_type, to_id, removed=False)
        labels = [lbl for t in type_ids if (lbl := ASSOCIATION_TYPES[t][3])]
        return web.json_response(
            {
                "fromObjectTypeId": OBJECT_TYPES[from_type].type_id,
                "fromObjectId": from_id,
                "toObjectTypeId": OBJECT_TYPES[to_type].type_id,
                "toObjectId": to_id,
                "labels": labels,
            },
            status=201,
        )

    async def dissociate(self, request: web.Request) -> web.Response:
        from_type, from_id, to_type, to_id = self._pair(request)
        linked = to_id in self.emu.portal.associated(from_type, from_id, to_type)
        self.emu.portal.dissociate(from_type, from_id, to_type, to_id)
        if linked:
            self._emit_association(request, from_type, from_id, to_type, to_id, removed=True)
        return web.Response(status=204)

    def _emit_association(
        self, request: web.Request, from_type: str, from_id: str, to_type: str, to_id: str, *, removed: bool
    ) -> None:
        """``<object>.associationChange`` for each end that has webhooks, as HubSpot sends it: no ``objectId``,
        ``fromObjectId``/``toObjectId`` and ``associationType`` (e.g. ``DEAL_TO_COMPANY``) instead
        (https://developers.hubspot.com/docs/api/webhooks#webhook-payloads, "association change")."""
        who = actor(request)
        for a_type, a_id, b_type, b_id in (
            (from_type, from_id, to_type, to_id),
            (to_type, to_id, from_type, from_id),
        ):
            if a_type not in ("deals", "contacts", "companies"):
                continue
            kind = f"{OBJECT_TYPES[a_type].singular}_TO_{OBJECT_TYPES[b_type].singular}".upper()
            extra = {
                "fromObjectId": int(a_id),
                "toObjectId": int(b_id),
                "associationType": kind,
                "associationRemoved": removed,
                "isPrimaryAssociation": False,
            }
            self.emu.webhooks.emit(
                f"{OBJECT_TYPES[a_type].singular}.associationChange", a_id, who, extra=extra
            )

    async def batch_read_associations(self, request: web.Request) -> web.Response:
        started = iso_now()
        from_type = resolve_object_type(request.match_info["fromObjectType"]).name
        to_type = resolve_object_type(request.match_info["toObjectType"]).name
        items = inputs(await json_object(request, "inputs"), limit=1000)
        results, missing = [], []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise validation_error("each input needs an 'id' string")
            if item["id"] not in self.emu.portal.records[from_type]:
                missing.append(item["id"])
                continue
            linked = self.emu.portal.associated(from_type, item["id"], to_type)
            if not linked:
                # HubSpot reports "no associations" as an error entry for that id
                missing.append(item["id"])
                continue
            results.append(
                {
                    "from": {"id": item["id"]},
                    "to": [
                        {
                            "toObjectId": to_id,
                            "associationTypes": [_spec_with_label(t) for t in sorted(types)],
                        }
                        for to_id, types in sorted(linked.items(), key=lambda kv: int(kv[0]))
                    ],
                }
            )
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": iso_now(),
        }
        if not missing:
            return web.json_response(body)
        body["numErrors"] = len(missing)
        body["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": {},
                "message": f"No {to_type} is associated with {from_type} {object_id}.",
                "context": {"fromObjectId": [object_id]},
                "errors": [],
                "links": {},
            }
            for object_id in missing
        ]
        return web.json_response(body, status=207)

    # -- properties -----------------------------------------------------------------------------
    def _defs(self, request: web.Request) -> tuple[str, dict[str, dict[str, Any]]]:
        object_type = resolve_object_type(request.match_info["objectType"]).name
        return object_type, self.emu.portal.properties[object_type]

    def _property_or_404(
        self, defs: dict[str, dict[str, Any]], name: str, object_type: str
    ) -> dict[str, Any]:
        found = defs.get(name)
        if found is None:
            raise HubSpotError(
                404,
                "OBJECT_NOT_FOUND",
                f"Unable to find property {name} for object type {object_type}",
                context={"propertyName": [name]},
            )
        return found

    def _new_property(self, object_type: str, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise validation_error("Invalid input JSON: a property definition must be an object")
        missing = [
            k for k in ("name", "label", "type", "fieldType", "groupName") if not isinstance(raw.get(k), str)
        ]
        if missing:
            raise validation_error(f"Property definition is missing {', '.join(missing)}")
        if raw["type"] not in _PROPERTY_TYPES:
            raise validation_error(
                f"Unknown property type {raw['type']!r}; expected one of {', '.join(_PROPERTY_TYPES)}"
            )
        if raw["groupName"] not in self.emu.portal.groups[object_type]:
            raise validation_error(
                f"Property group {raw['groupName']} does not exist", groupName=[raw["groupName"]]
            )
        if raw["name"] in self.emu.portal.properties[object_type]:
            raise HubSpotError(
                409,
                "OBJECT_ALREADY_EXISTS",
                f"Property named '{raw['name']}' already exists.",
                context={"name": [raw["name"]]},
            )
        now = iso_now()
        return {
            "description": "",
            "options": [],
            "displayOrder": -1,
            "hasUniqueValue": False,
            "hidden": False,
            "formField": False,
            "calculated": False,
            "externalOptions": False,
            **{k: v for k, v in raw.items() if k != "dataSensitivity"},
            "hubspotDefined": False,
            "archived": False,
            "createdAt": now,
            "updatedAt": now,
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
        }

    async def list_properties(self, request: web.Request) -> web.Response:
        _, defs = self._defs(request)
        return web.json_response({"results": list(defs.values())})

    async def get_property(self, request: web.Request) -> web.Response:
        object_type, defs = self._defs(request)
        return web.json_response(self._property_or_404(defs, request.match_info["propertyName"], object_type))

    async def create_property(self, request: web.Request) -> web.Response:
        object_type, defs = self._defs(request)
        prop = self._new_property(object_type, await json_body(request))
        defs[prop["name"]] = prop
        return web.json_response(prop, status=201)

    async def update_property(self, request: web.Request) -> web.Response:
        object_type, defs = self._defs(request)
        prop = self._property_or_404(defs, request.match_info["propertyName"], object_type)
        body = await json_object(request)
        if prop["modificationMetadata"]["readOnlyDefinition"]:
            raise validation_error(
                f"Property {prop['name']} is a HubSpot-defined property and cannot be changed"
            )
        if "type" in body and body["type"] not in _PROPERTY_TYPES:
            raise validation_error(f"Unknown property type {body['type']!r}")
        prop.update(
            {k: v for k, v in body.items() if k not in ("name", "hubspotDefined", "modificationMetadata")}
        )
        prop["updatedAt"] = iso_now()
        return web.json_response(prop)

    async def batch_create_properties(self, request: web.Request) -> web.Response:
        started = iso_now()
        object_type, defs = self._defs(request)
        created, errors = [], []
        for raw in inputs(await json_object(request, "inputs")):
            try:
                prop = self._new_property(object_type, raw)
            except HubSpotError as exc:
                if exc.status != 409:
                    raise
                errors.append({**exc.body, "errors": [], "links": {}, "context": exc.body.get("context", {})})
                continue
            defs[prop["name"]] = prop
            created.append(prop)
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": created,
            "startedAt": started,
            "completedAt": iso_now(),
        }
        if errors:
            body.update(errors=errors, numErrors=len(errors))
        return web.json_response(body, status=207 if errors else 201)

    async def batch_read_properties(self, request: web.Request) -> web.Response:
        started = iso_now()
        object_type, defs = self._defs(request)
        found, missing = [], []
        for item in inputs(await json_object(request, "inputs")):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                raise validation_error("each input needs a 'name' string")
            (found.append(defs[name]) if name in defs else missing.append(name))
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": found,
            "startedAt": started,
            "completedAt": iso_now(),
        }
        if not missing:
            return web.json_response(body)
        body["numErrors"] = len(missing)
        body["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Unable to find property {name} for object type {object_type}",
                "context": {"propertyName": [name]},
                "errors": [],
                "links": {},
            }
            for name in missing
        ]
        return web.json_response(body, status=207)

    async def list_groups(self, request: web.Request) -> web.Response:
        object_type = resolve_object_type(request.match_info["objectType"]).name
        return web.json_response({"results": list(self.emu.portal.groups[object_type].values())})

    async def create_group(self, request: web.Request) -> web.Response:
        object_type = resolve_object_type(request.match_info["objectType"]).name
        body = await json_object(request, "name", "label")
        if not isinstance(body["name"], str) or not isinstance(body["label"], str):
            raise validation_error("name and label must be strings")
        groups = self.emu.portal.groups[object_type]
        if body["name"] in groups:
            raise HubSpotError(
                409, "OBJECT_ALREADY_EXISTS", f"Property group named '{body['name']}' already exists."
            )
        order = body.get("displayOrder", -1)
        group = {"name": body["name"], "label": body["label"], "displayOrder": order, "archived": False}
        groups[body["name"]] = group
        return web.json_response(group, status=201)

    # -- owners ---------------------------------------------------------------------------------
    @staticmethod
    def _owner(raw: dict[str, Any]) -> dict[str, Any]:
        return {
            **raw,
            "type": "PERSON",
            "userIdIncludingInactive": raw["userId"],
            "archived": False,
            "createdAt": _EPOCH,
            "updatedAt": _EPOCH,
            "teams": [],
        }

    async def list_owners(self, request: web.Request) -> web.Response:
        limit = int_param(request, "limit", 100, 500)
        after = request.query.get("after", "0")
        if not after.isdigit():
            raise validation_error(f"Invalid 'after' paging cursor {after!r}")
        owners = [o for o in OWNERS if request.query.get("email") in (None, o["email"])]
        page = owners[int(after) : int(after) + limit]
        body: dict[str, Any] = {"results": [self._owner(o) for o in page]}
        if int(after) + limit < len(owners):
            body["paging"] = {"next": {"after": str(int(after) + limit)}}
        return web.json_response(body)

    async def get_owner(self, request: web.Request) -> web.Response:
        owner_id = request.match_info["ownerId"]
        for owner in OWNERS:
            if owner["id"] == owner_id:
                return web.json_response(self._owner(owner))
        raise HubSpotError(
            404, "OBJECT_NOT_FOUND", f"Owner {owner_id} not found", context={"ownerId": [owner_id]}
        )

    # -- pipelines ------------------------------------------------------------------------------
    def _deal_pipelines(self, request: web.Request) -> None:
        if resolve_object_type(request.match_info["objectType"]).name != "deals":
            raise validation_error("The sandbox only has deal pipelines")

    def _pipeline_or_404(self, request: web.Request) -> dict[str, Any]:
        self._deal_pipelines(request)
        if request.match_info["pipelineId"] != "default":
            raise HubSpotError(
                404, "OBJECT_NOT_FOUND", f"Pipeline {request.match_info['pipelineId']} not found"
            )
        return _pipeline()

    async def list_pipelines(self, request: web.Request) -> web.Response:
        self._deal_pipelines(request)
        return web.json_response({"results": [_pipeline()]})

    async def get_pipeline(self, request: web.Request) -> web.Response:
        return web.json_response(self._pipeline_or_404(request))

    async def list_stages(self, request: web.Request) -> web.Response:
        return web.json_response({"results": self._pipeline_or_404(request)["stages"]})
