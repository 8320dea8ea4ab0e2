"""``GET /conflicts/pending``, ``POST /conflicts/resolve`` and ``POST /rollback`` on a real relay: bearer auth,
problem+json, OpenAPI, a job per request and one event for the owning connector on the queue. The seed's names
(``opportunityId``, ``partnerCentralValue``) are what the aws plugin declares (``cosync_conflict_objects``); the
core's routes know no connector's names of their own."""

from __future__ import annotations

from typing import Any

from cosync_aws import declarations as aws_declarations
from pydantic import BaseModel

from cosync_worker.conflicts import Conflict, ConflictBook
from cosync_worker.hooks import ConflictObjectSpec, hookimpl
from cosync_worker.relay.keys import CONTEXT

from ..relay.conftest import TOKENS, Relay, RelayFactory

AUTH = {"Authorization": f"Bearer {TOKENS[0]}"}


class _Config(BaseModel):
    pass


class AcmeObjects:
    """A fourth cloud's declaration: its own names for its tickets, rollback included."""

    @hookimpl
    async def cosync_conflict_objects(self) -> list[ConflictObjectSpec]:
        return [
            ConflictObjectSpec(
                "acme",
                "acme",
                "ticket",
                id_field="ticketId",
                remote_label="acme",
                remote_resolution="USE_ACME_VALUE",
            )
        ]


async def _relay(
    make_relay: RelayFactory, connector: str | None = "aws", plugins: list[object] | None = None
) -> Relay:
    relay = await make_relay(plugins=[aws_declarations] if plugins is None else plugins)
    for name in [connector] if connector else []:
        # As if the connector were installed: the routes refuse work for one this process does not run.
        relay.server.app[CONTEXT].connector_configs[name] = _Config()
    return relay


async def _call(
    relay: Relay, method: str, path: str, body: Any = None, auth: bool = True
) -> tuple[int, Any, str]:
    async with relay.session.request(method, relay.url + path, json=body, headers=AUTH if auth else {}) as r:
        return r.status, await r.json(content_type=None), r.content_type


async def _seed(relay: Relay, connector: str = "aws") -> Conflict:
    return await ConflictBook(relay.store).record(
        Conflict(
            connector=connector,
            object_key="partnercentral:opportunity:O42" if connector == "aws" else f"{connector}:ticket:O42",
            remote_id="O42",
            deal_id="4242",
            field="dealstage",
            hubspot_value="presentationscheduled",
            hubspot_timestamp=1_771_408_800.0,
            remote_value="Technical Validation",
            remote_timestamp=1_771_408_802.0,
        )
    )


async def test_pending_lists_the_seed_shape(make_relay: RelayFactory) -> None:
    relay = await _relay(make_relay)
    conflict = await _seed(relay)
    status, body, _ = await _call(relay, "GET", "/conflicts/pending")
    assert status == 200
    assert body == {
        "conflicts": [
            {
                "id": conflict.id,
                "connector": "aws",
                "objectKey": "partnercentral:opportunity:O42",
                "opportunityId": "O42",
                "dealId": "4242",
                "field": "dealstage",
                "hubspotValue": "presentationscheduled",
                "partnerCentralValue": "Technical Validation",
                "hubspotTimestamp": "2026-02-18T10:00:00Z",
                "partnerCentralTimestamp": "2026-02-18T10:00:02Z",
                "detectedAt": body["conflicts"][0]["detectedAt"],
                "type": "SIMULTANEOUS_UPDATE",
                "status": "PENDING",
            }
        ]
    }
    status, body, _ = await _call(relay, "GET", "/conflicts/pending?connector=microsoft")
    assert body == {"conflicts": []}
    status, body, ctype = await _call(relay, "GET", "/conflicts/pending", auth=False)
    assert status == 401 and ctype == "application/problem+json"


async def test_resolve_queues_one_event_and_refuses_twice(make_relay: RelayFactory) -> None:
    relay = await _relay(make_relay)
    conflict = await _seed(relay)
    body = {"conflictId": conflict.id, "resolution": "USE_HUBSPOT_VALUE", "reason": "call with the customer"}
    status, accepted, _ = await _call(relay, "POST", "/conflicts/resolve", body)
    assert status == 202 and accepted["location"] == f"/jobs/{accepted['job_id']}"
    status, again, ctype = await _call(relay, "POST", "/conflicts/resolve", body)
    assert status == 409 and ctype == "application/problem+json", again
    status, job, _ = await _call(relay, "GET", accepted["location"])
    assert status == 200 and job["status"] == "pending" and job["kind"] == "aws.resolve_conflict"
    [event] = await relay.enqueued()
    assert event["type"] == "aws.resolve_conflict"
    assert event["ordering_key"] == "hubspot:deal:4242"
    assert event["payload"] == {
        "job_id": accepted["job_id"],
        "conflict_id": conflict.id,
        "resolution": "USE_HUBSPOT_VALUE",
        "value": None,
        "reason": "call with the customer",
        "actor": "api",  # who asked: the relay's plain test token is the admin "api"
    }


async def test_resolve_errors(make_relay: RelayFactory) -> None:
    relay = await _relay(make_relay)
    conflict = await _seed(relay)
    status, body, _ = await _call(
        relay, "POST", "/conflicts/resolve", {"conflictId": "conf-nope", "resolution": "USE_HUBSPOT_VALUE"}
    )
    assert status == 404, body
    for bad in (
        {"conflictId": conflict.id, "resolution": "TOSS_A_COIN"},
        {"conflictId": conflict.id},
        {"conflictId": conflict.id, "resolution": "USE_CUSTOM_VALUE"},
        {"conflictId": conflict.id, "resolution": "USE_HUBSPOT_VALUE", "value": "x"},
        {"conflictId": conflict.id, "resolution": "USE_HUBSPOT_VALUE", "extra": 1},
    ):
        status, body, ctype = await _call(relay, "POST", "/conflicts/resolve", bad)
        assert status == 422 and ctype == "application/problem+json", (bad, body)
    status, _, _ = await _call(relay, "POST", "/conflicts/resolve", {"conflictId": conflict.id}, auth=False)
    assert status == 401
    custom = {"conflictId": conflict.id, "resolution": "USE_CUSTOM_VALUE", "value": "closedwon"}
    status, _, _ = await _call(relay, "POST", "/conflicts/resolve", custom)
    assert status == 202
    assert await relay.enqueued() != []


async def test_resolve_for_a_connector_not_running_is_refused(make_relay: RelayFactory) -> None:
    relay = await _relay(make_relay, connector=None)
    conflict = await _seed(relay)
    body = {"conflictId": conflict.id, "resolution": "USE_HUBSPOT_VALUE"}
    status, problem, _ = await _call(relay, "POST", "/conflicts/resolve", body)
    assert status == 409 and "not running" in problem["detail"]
    assert await relay.enqueued() == []
    # nothing was claimed: once the connector runs, the conflict can be resolved
    relay.server.app[CONTEXT].connector_configs["aws"] = _Config()
    status, _, _ = await _call(relay, "POST", "/conflicts/resolve", body)
    assert status == 202


async def test_rollback_queues_an_event_for_the_opportunity(make_relay: RelayFactory) -> None:
    relay = await _relay(make_relay)
    body = {"opportunityId": "O42", "targetTimestamp": "2026-02-18T09:00:00Z"}
    status, accepted, _ = await _call(relay, "POST", "/rollback", body)
    assert status == 202
    [event] = await relay.enqueued()
    assert event["type"] == "aws.rollback" and event["ordering_key"] == "partnercentral:opportunity:O42"
    # ``actor``: who asked (the relay's plain test token is the admin "api"), for the audit trail
    assert event["payload"] == {
        "job_id": accepted["job_id"],
        "target_timestamp": 1_771_405_200.0,
        "actor": "api",
    }
    for bad in (
        {"opportunityId": "O42"},
        {"opportunityId": "O42", "targetTimestamp": "not a time"},
        {"opportunityId": "O 42/..", "targetTimestamp": "2026-02-18T09:00:00Z"},
        {"opportunityId": "O42", "targetTimestamp": "2999-01-01T00:00:00Z"},
        {"opportunityId": "O42", "targetTimestamp": "2026-02-18T09:00:00Z", "connector": "gcp"},
    ):
        status, problem, _ = await _call(relay, "POST", "/rollback", bad)
        assert status == 422, (bad, problem)
    status, _, _ = await _call(relay, "POST", "/rollback", body, auth=False)
    assert status == 401


async def test_routes_are_in_openapi(make_relay: RelayFactory) -> None:
    relay = await _relay(make_relay)
    status, doc, _ = await _call(relay, "GET", "/openapi.json", auth=False)
    assert status == 200
    assert "get" in doc["paths"]["/conflicts/pending"]
    assert "post" in doc["paths"]["/conflicts/resolve"] and "post" in doc["paths"]["/rollback"]
    assert {"2XX", "401", "404", "409", "422"} <= set(doc["paths"]["/conflicts/resolve"]["post"]["responses"])


async def test_a_fourth_cloud_names_its_fields_and_a_connector_without_names_gets_generic_ones(
    make_relay: RelayFactory,
) -> None:
    relay = await _relay(make_relay, "acme", plugins=[aws_declarations, AcmeObjects()])
    relay.server.app[CONTEXT].connector_configs["aws"] = _Config()
    acme, bare = await _seed(relay, "acme"), await _seed(relay, "bare")
    status, body, _ = await _call(relay, "GET", "/conflicts/pending")
    by_id = {c["id"]: c for c in body["conflicts"]}
    assert (by_id[acme.id]["ticketId"], by_id[acme.id]["acmeValue"]) == ("O42", "Technical Validation")
    assert by_id[acme.id]["acmeTimestamp"] == "2026-02-18T10:00:02Z" and "opportunityId" not in by_id[acme.id]
    assert (by_id[bare.id]["remoteId"], by_id[bare.id]["remoteValue"]) == ("O42", "Technical Validation")
    status, doc, _ = await _call(relay, "GET", "/openapi.json", auth=False)
    listed = doc["components"]["schemas"]["PendingConflict"]["properties"]
    assert {"ticketId", "acmeValue", "opportunityId", "partnerCentralValue", "remoteId"} <= set(listed)
    # The generic name of the remote side reaches the connector under its own name; another's is refused.
    status, _, _ = await _call(
        relay,
        "POST",
        "/conflicts/resolve",
        {"conflictId": acme.id, "resolution": "USE_PARTNER_CENTRAL_VALUE"},
    )
    assert status == 422
    status, _, _ = await _call(
        relay, "POST", "/conflicts/resolve", {"conflictId": acme.id, "resolution": "USE_REMOTE_VALUE"}
    )
    assert status == 202
    [event] = await relay.enqueued()
    assert event["type"] == "acme.resolve_conflict" and event["payload"]["resolution"] == "USE_ACME_VALUE"


async def test_rollback_with_two_connectors_offering_it_names_the_connector(make_relay: RelayFactory) -> None:
    relay = await _relay(make_relay, "acme", plugins=[aws_declarations, AcmeObjects()])
    at = "2026-02-18T09:00:00Z"
    status, problem, _ = await _call(
        relay, "POST", "/rollback", {"opportunityId": "O42", "targetTimestamp": at}
    )
    assert status == 422 and problem["errors"][0]["field"] == "connector", problem
    status, problem, _ = await _call(
        relay, "POST", "/rollback", {"connector": "acme", "opportunityId": "O42", "targetTimestamp": at}
    )
    assert status == 422 and problem["errors"][0]["field"] == "ticketId", problem
    status, problem, _ = await _call(
        relay, "POST", "/rollback", {"connector": "acme", "ticketId": "T7", "targetTimestamp": at}
    )
    assert status == 202, problem
    [event] = await relay.enqueued()
    assert event["type"] == "acme.rollback" and event["ordering_key"] == "acme:ticket:T7"


async def test_without_declarations_rollback_is_refused_naming_why(make_relay: RelayFactory) -> None:
    relay = await _relay(make_relay, "bare", plugins=[])
    body = {"connector": "bare", "remoteId": "R1", "targetTimestamp": "2026-02-18T09:00:00Z"}
    status, problem, _ = await _call(relay, "POST", "/rollback", body)
    assert status == 409 and "offers no rollback" in problem["detail"]
    status, problem, _ = await _call(relay, "POST", "/rollback", {**body, "connector": "other"})
    assert status == 409 and "not running" in problem["detail"]
    assert await relay.enqueued() == []


async def test_pending_query_is_validated_and_documented(make_relay: RelayFactory) -> None:
    relay = await _relay(make_relay)
    status, problem, ctype = await _call(relay, "GET", "/conflicts/pending?connector=" + "x" * 65)
    assert status == 400 and ctype == "application/problem+json"
    assert problem["errors"][0]["field"] == "query.connector" and "x" * 65 not in str(problem)
    status, doc, _ = await _call(relay, "GET", "/openapi.json", auth=False)
    operation = doc["paths"]["/conflicts/pending"]["get"]
    [param] = operation["parameters"]
    assert param["name"] == "connector" and param["in"] == "query" and param["required"] is False
    assert param["schema"] == {"type": "string", "maxLength": 64}
    assert "400" in operation["responses"]
