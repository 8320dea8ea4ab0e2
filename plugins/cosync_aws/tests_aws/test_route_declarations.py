"""The aws connector's REST routes are the SDK's ``@route`` declarations (no hand-built route list): the
relay gets them from the generated ``cosync_routes``, in the order it registers them (``/solutions/search``
before ``/solutions/{id}``), and none while the connector is idle."""

from __future__ import annotations

from typing import Any

from cosync_aws.config import AwsConfig
from cosync_aws.plugin import AwsConnector

from cosync_worker.connector import Connector

ROUTES = [
    ("POST", "/submit-opportunity"),
    ("POST", "/assign-opportunity"),
    ("GET", "/solutions"),
    ("GET", "/solutions/search"),
    ("GET", "/solutions/{id}"),
    ("POST", "/opportunity-team/add"),
    ("POST", "/opportunity-team/remove"),
    ("POST", "/resources/upload"),
    ("POST", "/resources/associate"),
    ("DELETE", "/resources/disassociate"),
    ("GET", "/resources/{opportunityId}"),
    ("GET", "/engagements/{opportunityId}"),
]


class _Idle:
    services: dict[str, Any] = {}

    def config(self, name: str) -> Any:
        return AwsConfig()  # an empty section: no credentials, so the connector stays idle


def test_the_routes_are_declared_in_the_order_the_relay_registers_them() -> None:
    connector = AwsConnector()
    declared = Connector.cosync_routes(connector, _Idle())  # type: ignore[arg-type]
    assert [(r.method, r.path) for r in declared or []] == ROUTES
    assert all(getattr(r.handler, "__self__", None) is connector for r in declared or [])


def test_an_idle_connector_serves_no_route() -> None:
    assert AwsConnector().cosync_routes(_Idle()) == []  # type: ignore[arg-type]
