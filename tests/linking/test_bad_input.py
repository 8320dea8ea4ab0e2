"""Bad input to the first-day commands is refused naming the problem, never with a traceback or its content."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import cli


async def test_a_candidates_file_without_its_columns_or_with_a_bad_row_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "edited.csv"
    bad.write_text("deal,remote\nsecret-value,1\n")
    code, _, err = await cli(tmp_path, "link", "--apply", str(bad))
    assert code == 2 and "no column connector, deal_id, remote_id, accept" in err
    assert "secret-value" not in err and "Traceback" not in err
    bad.write_text("connector,deal_id,remote_id,accept\naws,not-a-number-secret,O1,yes\n")
    code, _, err = await cli(tmp_path, "link", "--apply", str(bad))
    assert code == 2 and "line 2: needs a connector, a numeric deal_id and a remote_id" in err
    assert "not-a-number-secret" not in err and "Traceback" not in err


async def test_a_score_outside_zero_to_one_and_a_bad_date_are_refused(tmp_path: Path) -> None:
    code, _, err = await cli(tmp_path, "link", "--accept-above", "2")
    assert code == 2 and "--accept-above" in err and "Traceback" not in err
    code, _, err = await cli(tmp_path, "backfill", "--since", "yesterday")
    assert code == 2 and "--since" in err and "Traceback" not in err
