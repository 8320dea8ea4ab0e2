"""The demo's book of deals: each connector's own deal (from its ``cosync_demo`` hook, tagged for it), one deal
tagged for every cloud and one for none, which must stay in HubSpot alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..hooks.types import DemoCloudSpec, DemoDeal

__all__ = ["DemoDeal", "book"]

EVERY_CLOUD = DemoDeal(
    "Umbrella Cloud Migration",
    "1200000",
    "presentationscheduled",
    {
        "name": "Umbrella Corp",
        "domain": "umbrella.example",
        "website": "https://umbrella.example",
        "industry": "HOSPITAL_HEALTH_CARE",
        "country": "US",
        "city": "Raccoon City",
        "state": "MO",
        "zip": "63101",
    },
    {"firstname": "Alice", "lastname": "Abernathy", "email": "alice@umbrella.example", "jobtitle": "CIO"},
    edits={"closedate": "2027-03-31"},
)

NO_CLOUD = DemoDeal(
    "Hooli Internal Tools",
    "40000",
    "appointmentscheduled",
    {
        "name": "Hooli",
        "domain": "hooli.example",
        "website": "https://hooli.example",
        "industry": "INTERNET",
        "country": "US",
        "city": "Palo Alto",
        "state": "CA",
        "zip": "94301",
    },
    {"firstname": "Gavin", "lastname": "Belson", "email": "gavin@hooli.example", "jobtitle": "CEO"},
)


def book(clouds: Sequence[DemoCloudSpec]) -> tuple[DemoDeal, ...]:
    """The deals the rep enters, in order; a deal's ``clouds`` are the connectors its tags send it to."""
    own = [
        replace(c.deal, name=f"{c.deal.name} {c.deal_tag}", clouds=(c.connector,))
        for c in clouds
        if c.deal is not None
    ]
    every = (
        [
            replace(
                EVERY_CLOUD,
                name=" ".join([EVERY_CLOUD.name, *(c.deal_tag for c in clouds)]),
                clouds=tuple(c.connector for c in clouds),
            )
        ]
        if clouds
        else []
    )
    return (*own, *every, NO_CLOUD)
