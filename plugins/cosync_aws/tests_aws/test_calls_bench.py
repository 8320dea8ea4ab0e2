"""The calls docs/benchmarks.md claims for flows 1 and 2 still hold: the bench's own flows run here and are
compared with the figures in the doc's table, so neither the connector nor the doc can drift silently."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

from cosync_worker.testing.bench_scripts import load_bench

ROOT = Path(__file__).resolve().parents[3]


def _bench() -> ModuleType:
    return load_bench(ROOT, "aws_calls_per_flow")


def _documented(flow_prefix: str) -> tuple[int, int, int]:
    """(HubSpot calls, Partner Central reads, writes) of the doc's row for a flow; HubSpot may be a range
    ("13-16"), whose upper end is the claim."""
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    section = text.split("## API calls per AWS flow", 1)[1]
    row = next(line for line in section.splitlines() if line.startswith(f"| {flow_prefix} "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    numbers = [re.match(r"(\d+)(?:[\u2013-](\d+))?", c) for c in cells[1:4]]
    assert all(numbers), row
    hs, reads, writes = (int(m.group(2) or m.group(1)) for m in numbers if m)
    return hs, reads, writes


async def test_create_and_update_burst_spend_what_the_doc_says(tmp_path: Path) -> None:
    bench = _bench()
    async with bench.bench_stack(tmp_path) as b:
        create, deal_id, _, _ = await bench.flow_create(b)
        stamped = b.deal(deal_id)["aws_last_sync_date"]
        burst = await bench.flow_update_burst(b, deal_id)
        deal = b.deal(deal_id)
        linked = b.hs.portal.associated("deals", deal_id, "notes")
        notes = [
            str(n["properties"].get("hs_note_body")) for i, n in b.hs.objects("notes").items() if i in linked
        ]

    hs, reads, writes = _documented("1.")
    assert create.partnercentral["CreateOpportunity"] == 1
    assert create.partnercentral["UpdateOpportunity"] == 0  # the creation's property events write nothing
    assert create.pc_writes == writes, create.partnercentral
    assert create.pc_reads <= reads, create.partnercentral
    assert sum(create.hubspot.values()) <= hs, create.hubspot

    hs, reads, writes = _documented("2.")
    assert burst.partnercentral["UpdateOpportunity"] == 1  # three edits merged into one write
    assert burst.pc_writes == writes, burst.partnercentral
    assert burst.pc_reads <= reads, burst.partnercentral
    assert sum(burst.hubspot.values()) <= hs, burst.hubspot
    # What the rep sees of the push (seed 001 §1, issue 17) costs two calls for the whole burst, not two per
    # edit: one PATCH (aws_last_sync_date/by) and one note created with its association inline.
    assert burst.hubspot["PATCH /crm/v3/objects/{objectType}/{objectId}"] == 1, burst.hubspot
    assert burst.hubspot["POST /crm/v3/objects/{objectType}"] == 1, burst.hubspot
    assert not any("associations" in k and k.startswith(("PUT", "POST")) for k in burst.hubspot), (
        burst.hubspot
    )
    assert deal["aws_last_sync_by"] == "rep" and deal["aws_last_sync_date"] > stamped, deal
    [pushed] = [n for n in notes if n.startswith("Sent to AWS Partner Central")]
    assert all(f in pushed for f in ("stage:", "expected spend: 15000", "close date:")), pushed
