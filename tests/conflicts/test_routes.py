"""``GET /conflicts/pending``, ``POST /conflicts/resolve`` and ``POST /rollback`` on a real relay: bearer auth,
problem+json, OpenAPI, a job per request and one event for the owning connector on the queue."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cosync_worker.conflicts import Conflict, ConflictBook
from cosync_worker.relay.keys import CONTEXT

from ..relay.conftest import TOKENS, Relay, RelayFactory

AUTH = {"Authorization": f"Bearer {TOKENS[0]}"}


class _Config(BaseModel):
    pass


async def _relay(make_relay: RelayFactory, connector: str | None = "aws") -> Relay:
    relay = await make_relay()
    if connector:
        # As if the connector were installed: the routes refuse work for one this process does not run.
        relay.server.app[CONTEXT].connector_configs[connector] = _Config()
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
            object_key="partnercentral:opportunity:O42",
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
    assert event["payload"] == {"job_id": accepted["job_id"], "target_timestamp": 1_771_405_200.0}
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
