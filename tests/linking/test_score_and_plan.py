"""Scoring and planning are pure: tested on plain values, no I/O."""

from __future__ import annotations

from typing import Any

from cosync_worker.hooks import LinkerSpec, Party, RemoteRecord
from cosync_worker.linking import DealView, plan_connector, score
from cosync_worker.linking.score import normal_company, normal_domain


async def _noop(*_: Any) -> None:
    return None


async def _created(_: str) -> str | None:
    return None


def _spec(**extra: Any) -> LinkerSpec:
    values: dict[str, Any] = {
        "connector": "cloud",
        "id_property": "cloud_id",
        "tagged": lambda p: "#CLOUD" in str(p.get("dealname") or ""),
        "link": _noop,
        "create_remote": _created,
        "deal_from_remote": lambda r: {"dealname": r.label, "cloud_id": r.remote_id},
    }
    return LinkerSpec(**(values | extra))


def _deal(ident: str, title: str, company: str = "", close: str = "", **props: str) -> DealView:
    return DealView(ident, {"dealname": title, **props}, Party(company, "", title, close))


def test_company_names_entered_twice_by_hand_score_high() -> None:
    assert normal_company("ACME Corporation, Inc.") == normal_company("Acme Corp") == "acme"
    assert normal_domain("https://www.acme.example/about") == "acme.example"
    same = score(
        Party("Acme Corp", "acme.example", "Acme migration #AWS", "2026-03-01"),
        Party("ACME Corporation", "https://www.acme.example", "Acme migration", "2026-03-08"),
    )
    assert same.total > 0.9
    assert same.parts["domain"] == 1.0 and 0.85 < same.parts["close_date"] < 1.0


def test_a_different_customer_scores_low_and_no_customer_scores_zero() -> None:
    other = score(Party("Acme Corp", "", "", "2026-03-01"), Party("Globex", "", "", "2026-03-01"))
    assert other.total < 0.5
    # A title and a date alike without any customer on one side are a coincidence.
    assert (
        score(Party("", "", "Migration", "2026-03-01"), Party("Acme", "", "Migration", "2026-03-01")).total
        == 0
    )


def test_close_dates_far_apart_score_nothing_for_the_date() -> None:
    far = score(Party("Acme", "", "", "2026-01-01"), Party("Acme", "", "", "2026-06-01"))
    assert far.parts["close_date"] == 0.0


def test_exact_matches_first_then_candidates_then_creations() -> None:
    deals = [
        _deal("1", "Carried #CLOUD", cloud_id="R1"),
        _deal("2", "Named by the remote #CLOUD"),
        _deal("3", "Hand entered #CLOUD", "Initech LLC", "2026-05-01"),
        _deal("4", "Nothing remote #CLOUD"),
        _deal("5", "Untagged"),
    ]
    records = [
        RemoteRecord("R1", Party("x")),
        RemoteRecord("R2", Party("y"), deal_id="2"),
        RemoteRecord("R3", Party("Initech", "", "", "2026-05-09"), label="Initech"),
        RemoteRecord("R4", Party("Umbrella"), label="Umbrella"),
        RemoteRecord("R5", Party("Closed Co"), open=False),
        RemoteRecord("R6", Party("Made from deal 99"), deal_id="99"),
    ]
    plan = plan_connector(_spec(), deals, records)
    kinds = {(a.kind, a.deal_id, a.remote_id) for a in plan.actions}
    assert kinds == {
        ("adopt", "1", "R1"),
        ("link", "2", "R2"),
        ("candidate", "3", "R3"),
        ("create_remote", "4", None),
        ("create_deal", None, "R4"),
    }
    # Neither side of an unconfirmed candidate is created: it may be the same deal entered twice.
    accepted = plan_connector(_spec(), deals, records, accept_above=0.8)
    assert ("accept", "3", "R3") in {(a.kind, a.deal_id, a.remote_id) for a in accepted.actions}
    confirmed = plan_connector(_spec(), deals, records, confirmed={("4", "R4")})
    found = {(a.kind, a.deal_id, a.remote_id) for a in confirmed.actions}
    assert ("accept", "4", "R4") in found and ("create_deal", None, "R4") not in found


def test_a_candidate_pairs_one_to_one_best_first() -> None:
    deals = [_deal("1", "A", "Initech", "2026-05-01"), _deal("2", "B", "Initech", "2026-09-01")]
    records = [RemoteRecord("R1", Party("Initech", "", "", "2026-05-02"))]
    plan = plan_connector(_spec(), deals, records)
    candidates = plan.of("candidate")
    assert [(a.deal_id, a.remote_id) for a in candidates] == [("1", "R1")]
    # The other deal is tagged-less here, so nothing is created for it either.
    assert plan.of("create_remote") == []


def test_action_keys_are_stable_for_the_ledger() -> None:
    deals = [_deal("4", "Nothing remote #CLOUD")]
    first = plan_connector(_spec(), deals, []).actions[0]
    again = plan_connector(_spec(), deals, []).actions[0]
    assert first.key == again.key == "cloud:create_remote:4"
