"""Each HubSpot property the AWS connector declares is declared once (a copy merged from two branches went
unnoticed: HubSpot would be asked to create it twice)."""

from collections import Counter

from cosync_aws.properties import PROPERTIES


def test_every_property_is_declared_once() -> None:
    names = Counter((p.object_type, p.name) for p in PROPERTIES)
    assert [n for n, count in names.items() if count > 1] == []
