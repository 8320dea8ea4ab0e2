"""``cosync link``, ``cosync backfill`` and ``cosync sync deal ID``: the first day's commands (docs/first-day.md).
Registered on the ``cosync`` group by :mod:`cosync_worker.cli`."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import click

from .cli import _run, _settings, config_option

__all__ = ["backfill", "link", "sync_deal"]

connector_option = click.option("--connector", help="Only this connector (default: every configured one).")
dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Write nothing anywhere; print what would be done."
)
json_option = click.option("--json", "as_json", is_flag=True, help="The plan and outcome as one JSON object.")


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _linking(config: str | None, options: Any, as_json: bool, candidates: Path | None) -> None:
    settings = _settings(config)  # before the imports: a refused configuration exits without them
    from .linking import collect_linkers, run_linking, write_candidates
    from .linking.render import print_report, report_json
    from .runtime import Runtime

    async def go() -> Any:
        async with Runtime(settings, require_properties=True) as rt:
            if "hubspot" not in rt.context.services:
                _fail("hubspot.access_token: required to link deals")
            try:
                specs = await collect_linkers(rt.plugins, rt.context, options.connector)
            except LookupError as exc:
                _fail(str(exc))
            if not specs:
                _fail("no configured connector links deals (see cosync plugins and config check)")
            return await run_linking(rt.context, specs, options, progress_to=None if as_json else sys.stderr)

    report = _run(go, config)
    if candidates is not None:
        rows = write_candidates(candidates, [a for a in report.actions() if a.kind == "candidate"])
        click.echo(f"wrote {rows} candidate(s) to {candidates}: set accept to yes, then --apply it", err=True)
    if as_json:
        click.echo(json.dumps(report_json(report, dry_run=options.dry_run), default=str))
    else:
        print_report(report, dry_run=options.dry_run)
    sys.exit(1 if report.failed else 0)


def _confirmed(apply: Path | None) -> dict[str, set[tuple[str, str]]]:
    from .linking import CandidatesFileError, read_confirmed

    if apply is None:
        return {}
    try:
        return read_confirmed(apply)
    except CandidatesFileError as exc:
        _fail(str(exc))


score_option = click.option(
    "--accept-above",
    type=click.FloatRange(0, 1),
    help="Also link candidates scoring at least this (0..1); without it candidates are only listed.",
)
apply_option = click.option(
    "--apply",
    "apply",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Link the candidate rows whose accept column says yes (a file --write-candidates wrote).",
)
candidates_option = click.option(
    "--write-candidates",
    "candidates",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the candidates to this CSV for a person to confirm.",
)


@click.command()
@config_option
@connector_option
@dry_run_option
@score_option
@apply_option
@candidates_option
@json_option
def link(
    config: str | None,
    connector: str | None,
    dry_run: bool,
    accept_above: float | None,
    apply: Path | None,
    candidates: Path | None,
    as_json: bool,
) -> None:
    """Match existing remote records to existing deals before anything is created: exact matches are linked
    (ids written to the deal, state recorded, nothing sent); scored candidates are listed, and linked only
    when confirmed (--accept-above or --apply)."""
    from .linking import Options

    options = Options(connector, dry_run, False, accept_above, _confirmed(apply))
    _linking(config, options, as_json, candidates)


@click.command()
@config_option
@connector_option
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), help="Create remote records only for deals created since."
)
@dry_run_option
@score_option
@apply_option
@json_option
def backfill(
    config: str | None,
    connector: str | None,
    since: Any,
    dry_run: bool,
    accept_above: float | None,
    apply: Path | None,
    as_json: bool,
) -> None:
    """Link (as cosync link), then create what is missing in the right direction: tagged deals without a
    remote record get one, remote records without a deal get a deal. Resumable: a rerun continues where a
    killed one stopped and never does an action twice; it spends the same shared budgets as cosync run."""
    from .linking import Options

    day: date | None = since.date() if since is not None else None
    options = Options(connector, dry_run, True, accept_above, _confirmed(apply), day)
    _linking(config, options, as_json, None)


def sync_deal(config: str | None, deal_id: str, connector: str | None) -> None:
    """``cosync sync deal ID``: the events of ``relay.deal_sync`` dispatched in this process, now."""
    if not deal_id.isdigit() or len(deal_id) > 18:
        _fail("ID: a HubSpot deal id is a number")
    settings = _settings(config)  # before the imports: a refused configuration exits without them
    from .hubspot.errors import NotFound
    from .relay.deal_sync import deal_sync_events, deal_syncing
    from .runtime import Runtime

    async def go() -> int:
        async with Runtime(settings, require_properties=True) as rt:
            names = deal_syncing(c.spec for c in rt.plugins.connectors())
            if connector is not None and connector not in names:
                _fail(f"--connector: no installed connector has this name; known: {', '.join(names)}")
            hubspot = rt.context.services.get("hubspot")
            if hubspot is None:
                _fail("hubspot.access_token: required to sync a deal")
            try:
                record = await hubspot.get("deals", deal_id, properties=["dealname"])
            except NotFound:
                _fail("no deal has this id", 1)
            name = str((record.get("properties") or {}).get("dealname") or "")
            events = deal_sync_events(
                deal_id, name, connectors=[connector] if connector else [], source="COSYNC_CLI"
            )
            ok = True
            for event in events:
                outcome = await rt.worker.dispatcher.dispatch(event, force=True)
                ok = ok and outcome.action == "ack"
                row = {
                    "deal": deal_id,
                    "event": event.type,
                    "outcome": outcome.action,
                    "reason": outcome.reason,
                }
                click.echo(json.dumps(row | {"failed": outcome.failed}))
            return 0 if ok else 1

    sys.exit(_run(go, config))
