"""The ``cosync`` command line.

Each command imports what it needs when it runs: the configuration models, the plugin manager, asyncio and
the logging setup cost about 0.6 CPU-seconds to import, which ``--help``, ``--version`` and a mistyped
command need not pay (nor the suite, that starts the CLI hundreds of times).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__

if TYPE_CHECKING:
    from .config import Settings

__all__ = ["main"]

T = TypeVar("T")
DEFAULT_CONFIG = "config.yaml"


def _settings(config: str | None) -> Settings:
    """The validated settings, logging configured by them; a configuration error is printed, exit 2. Commands
    call it before importing what they run, so that a refused configuration costs only the configuration's
    own imports (the suite starts many such processes)."""
    from .config import ConfigError, load_settings

    path = config or (DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else None)
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(f"config error: {line}", err=True)
        sys.exit(2)
    from .logs import configure_logging

    configure_logging(settings.logging.level, settings.logging.format)
    return settings


def _run(coro_factory: Callable[[], Awaitable[T]], config: str | None = None) -> T:
    import asyncio

    from .config import ConfigError
    from .errors import PermanentError, Retry
    from .runtime import MissingPropertiesError

    async def wrapper() -> T:
        return await coro_factory()

    try:
        return asyncio.run(wrapper())
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(f"config error: {line}", err=True)
        sys.exit(2)
    except MissingPropertiesError as exc:
        create = "cosync properties create" + (f" -c {config}" if config else "")
        click.echo(
            f"error: HubSpot lacks {len(exc.names)} propert{'y' if len(exc.names) == 1 else 'ies'} the "
            f"configured connectors need: {', '.join(exc.names)}\n"
            f"create them with `{create}` (or set hubspot.create_properties: true); nothing was processed",
            err=True,
        )
        sys.exit(2)
    except (PermanentError, Retry) as exc:
        # HubSpot refused or could not be reached while checking at start: say which, not a traceback.
        click.echo(f"error: cannot start: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


config_option = click.option(
    "--config",
    "-c",
    "config",
    type=click.Path(dir_okay=False),
    help="config.yaml to use (default: ./config.yaml).",
)


# The deployment's recipe (docs/deploy.md): the running worker task has the configuration and credentials.
_EPILOG = """\b
On AWS (ECS Exec into a running worker; docs/deploy.md):
  aws ecs execute-command --cluster cosync --task TASK_ID --container cosync \\
    --interactive --command "cosync dlq list --config /app/config.yaml"
One-off commands (cosync properties create, a backfill): aws ecs run-task, see docs/deploy.md.
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EPILOG)
@click.version_option(__version__, "--version", "-V", prog_name="cosync", message="%(prog)s %(version)s")
def main() -> None:
    """cosync: keeps HubSpot in sync with AWS Partner Central, Google Cloud and Microsoft co-sell."""


@main.command()
@config_option
@click.option("--no-relay", is_flag=True, help="Do not serve the relay in this process.")
def run(config: str | None, no_relay: bool) -> None:
    """Run the worker, the scheduler and the relay until SIGTERM/SIGINT."""
    settings = _settings(config)
    from .runtime import Runtime

    async def go() -> None:
        async with Runtime(settings, require_properties=True) as rt:
            rt.install_signal_handlers()
            await rt.run(with_relay=not no_relay)

    _run(go, config)


@main.command()
@config_option
def relay(config: str | None) -> None:
    """Serve only the relay (webhook intake and REST API), for deployments that scale intake apart."""
    settings = _settings(config)
    import asyncio

    from .runtime import Runtime

    async def go() -> None:
        async with Runtime(settings) as rt:
            rt.install_signal_handlers()
            await rt.start_relay()
            stop = asyncio.Event()
            rt.worker.stop = stop.set  # type: ignore[method-assign]
            await stop.wait()

    _run(go)


@main.command()
@config_option
@click.argument("name")
@click.argument("deal_id", required=False, metavar="[ID]")
@click.option("--once", is_flag=True, help="Run one tick of the loop now and exit.")
@click.option("--connector", help="With `sync deal ID`: only this connector.")
def sync(config: str | None, name: str, deal_id: str | None, once: bool, connector: str | None) -> None:
    """Run one tick of the sync loop NAME immediately (``cosync sync invitation_poll --once``), or push one
    deal now (``cosync sync deal ID [--connector NAME]``: created where tagged and missing, changes sent)."""
    if name == "deal" and deal_id is not None:
        from .cli_linking import sync_deal

        sync_deal(config, deal_id, connector)
        return
    if deal_id is not None or connector is not None:
        click.echo("error: ID and --connector go with `cosync sync deal ID`", err=True)
        sys.exit(2)
    if not once:
        click.echo("error: a loop runs with --once (cosync sync NAME --once)", err=True)
        sys.exit(2)
    settings = _settings(config)
    from .events import schedule_tick
    from .runtime import Runtime

    async def go() -> int:
        async with Runtime(settings, require_properties=True) as rt:
            names = sorted(s.name for s in rt.scheduler.schedules)
            if name not in names:
                click.echo(
                    f"error: no sync loop named {name!r}; known loops: {', '.join(names) or 'none'}", err=True
                )
                return 2
            event = schedule_tick(name, int(time.time() * 1000))
            outcome = await rt.worker.dispatcher.dispatch(event, force=True)
            click.echo(json.dumps({"loop": name, "outcome": outcome.action, "reason": outcome.reason}))
            return 0 if outcome.action == "ack" else 1

    sys.exit(_run(go, config))


@main.group("config")
def config_group() -> None:
    """Inspect configuration."""


@config_group.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object: ok and the problems (YAML paths).")
def config_check(config: str | None, as_json: bool) -> None:
    """Validate config.yaml, the environment, every connector's section and every secret reference."""
    from .config import ConfigError, load_settings

    if not as_json:
        settings = _settings(config)
        from .hooks import PluginManager
        from .runtime import validate_config

        _run(lambda: validate_config(settings, PluginManager()))
        click.echo("config ok")
        return
    path = config or (DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else None)
    try:
        settings = load_settings(path)
        import asyncio

        from .hooks import PluginManager
        from .runtime import validate_config

        asyncio.run(validate_config(settings, PluginManager()))
    except ConfigError as exc:
        click.echo(json.dumps({"ok": False, "problems": list(exc.problems)}))
        sys.exit(2)
    click.echo(json.dumps({"ok": True, "problems": []}))


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per plugin, one a line.")
def plugins(config: str | None, as_json: bool) -> None:
    """List installed plugins, the connectors they declare, event types and schedules."""
    settings = _settings(config)
    from .hooks import PluginManager

    pm = PluginManager().load(settings)
    connectors = {id(c.plugin): c for c in pm.connectors()}
    if as_json:
        for name, plugin in sorted(pm.list_name_plugin(), key=lambda p: p[0]):
            found = connectors.get(id(plugin))
            spec = None if found is None else found.spec
            row = {
                "plugin": name,
                "connector": None if spec is None else spec.name,
                "events": [] if spec is None else list(spec.event_types),
                "schedules": []
                if spec is None
                else [{"name": s.name, "interval_seconds": s.interval_seconds} for s in spec.schedules],
            }
            click.echo(json.dumps(row))
        return
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda p: p[0]):
        c = connectors.get(id(plugin))
        if c is None:
            click.echo(f"{name}: (no connector)")
            continue
        schedules = ", ".join(f"{s.name} every {s.interval_seconds:g}s" for s in c.spec.schedules) or "none"
        click.echo(f"{name}: connector {c.spec.name!r}")
        click.echo(f"    events: {', '.join(c.spec.event_types) or 'none'}")
        click.echo(f"    schedules: {schedules}")


@main.group()
def dlq() -> None:
    """Inspect and replay the dead-letter queue."""


@dlq.command("list")
@config_option
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, each with the message's body.")
def dlq_list(config: str | None, limit: int, as_json: bool) -> None:
    """Dead-lettered messages: the connectors that failed each (a replay runs only them), the reason it was
    parked and its age; with --json, JSON lines that also hold its body."""
    settings = _settings(config)
    from .runtime import open_queue

    async def go() -> list[Any]:
        queue = await open_queue(settings.queue)
        try:
            return list(await queue.list_dead_letters(limit))
        finally:
            await queue.close()

    letters = _run(go)
    if as_json:
        for d in letters:
            line = {"id": d.id, "connectors": d.connectors, "reason": d.reason, "failed_at": d.failed_at}
            click.echo(json.dumps(line | {"body": d.body}))
        return
    from rich.console import Console
    from rich.table import Table

    from .status_view import ago

    table = Table(title=f"{len(letters)} dead letter(s)")
    for column in ("id", "connectors", "reason", "failed"):
        table.add_column(column)
    for d in letters:
        table.add_row(d.id, ", ".join(d.connectors) or "-", d.reason, ago(d.failed_at))
    Console(width=200).print(table)


@dlq.command("replay")
@config_option
@click.argument("ids", nargs=-1)
@click.option("--yes", "-y", is_flag=True, help="Replay every dead letter without asking.")
def dlq_replay(config: str | None, ids: tuple[str, ...], yes: bool) -> None:
    """Move dead letters (all, or the given IDS) back onto the queue; each runs only through the
    connectors that failed it. Replaying all asks first (--yes to skip)."""
    settings = _settings(config)
    from .runtime import open_queue

    async def count() -> int:
        queue = await open_queue(settings.queue)
        try:
            return len(await queue.list_dead_letters(1_000_000))
        finally:
            await queue.close()

    if not ids and not yes:
        total = _run(count)
        if total and not sys.stdin.isatty():
            click.echo(
                f"error: replaying all {total} dead letter(s) needs --yes (nobody to ask here)", err=True
            )
            sys.exit(2)
        if total and not click.confirm(f"replay all {total} dead letter(s)?"):
            click.echo("nothing replayed")
            sys.exit(1)

    async def go() -> int:
        queue = await open_queue(settings.queue)
        try:
            return await queue.replay_dead_letters(list(ids) or None)
        finally:
            await queue.close()

    click.echo(f"replayed {_run(go)} message(s)")


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.option("--url", help="A deployment's relay (e.g. https://cosync.example.com): read its /status.")
@click.option("--token", envvar="COSYNC_API_TOKEN", help="API token for --url (or COSYNC_API_TOKEN).")
def status(config: str | None, as_json: bool, url: str | None, token: str | None) -> None:
    """How cosync is doing: connectors, loops, queue, dead letters, budgets. Exits 1 when something needs
    attention (a dead letter, a loop overdue, a connector failing)."""
    if url:
        if not token:
            click.echo("error: --url needs --token (or COSYNC_API_TOKEN)", err=True)
            sys.exit(2)
        from .status_view import StatusUnavailable, fetch_status

        try:
            report = _run(lambda: fetch_status(url, token))
        except StatusUnavailable as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
    else:
        settings = _settings(config)
        from .status_view import local_status

        report = _run(lambda: local_status(settings))
    if as_json:
        click.echo(json.dumps({**report.model_dump(mode="json"), "needs_attention": report.needs_attention}))
    else:
        from .status_view import render_status

        render_status(report)
    sys.exit(1 if report.needs_attention else 0)


def _json(obj: Any) -> str:
    return json.dumps(obj, default=str)


@main.command()
@click.option(
    "--write-config",
    "write_config",
    type=click.Path(dir_okay=False),
    help="Also write a config.yaml that points cosync at the emulators.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option(
    "--relay-port", default=0, help="Port the relay of the written config will use (0: a free one)."
)
@click.option(
    "--time-scale", default=1.0, show_default=True, help="Speed up the emulators' quotas and clocks."
)
def sandbox(write_config: str | None, host: str, relay_port: int, time_scale: float) -> None:
    """Start the HubSpot emulator and every installed connector's emulators on loopback until SIGINT/SIGTERM.

    Prints exactly one JSON line on stdout with their URLs and credentials once all accept connections.
    """
    import asyncio
    import signal

    from .config import load_settings
    from .hooks import PluginManager
    from .logs import configure_logging
    from .runtime import open_queue
    from .sandbox.stack import SandboxStack

    configure_logging("INFO", "auto")

    async def go() -> None:
        pm = PluginManager().load(None)
        stack = SandboxStack(host=host, relay_port=relay_port, time_scale=time_scale, plugins=pm)
        info = await stack.start()
        queue = None
        try:
            if write_config:
                path = stack.write_config(write_config, plugins=pm)
                settings = load_settings(path)
                queue = await open_queue(settings.queue)
                stack.connect_queue(queue)
            click.echo(json.dumps(info))
            sys.stdout.flush()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            if queue is not None:
                await queue.close()
            await stack.stop()

    _run(go)


@main.command()
@click.option("--speed", default=1.0, show_default=True, help="Play the script faster (2 = twice as fast).")
@click.option("--duration", default=60.0, show_default=True, help="Stop after this many seconds.")
def demo(speed: float, duration: float) -> None:
    """Run the whole system against the built-in emulators, with a live table and a summary."""
    import asyncio

    from .demo.runner import run_demo
    from .logs import configure_logging

    configure_logging("WARNING", "auto")
    try:
        result = asyncio.run(run_demo(speed=speed, duration=duration))
    except KeyboardInterrupt:
        click.echo("demo interrupted", err=True)
        sys.exit(130)
    sys.exit(0 if result.complete else 1)


@main.group()
def properties() -> None:
    """HubSpot custom properties that the installed connectors need."""


@properties.command("create")
@config_option
def properties_create(config: str | None) -> None:
    """Create the missing custom properties (and groups) in HubSpot; existing ones are left alone."""
    settings = _settings(config)
    from .config import ConfigError
    from .runtime import Runtime, declared_properties

    async def go() -> tuple[list[str], list[str]]:
        async with Runtime(settings) as rt:
            client = rt.context.services.get("hubspot")
            if client is None:
                raise ConfigError(["hubspot.access_token: required to create properties"])
            created, existing = await client.ensure_properties(declared_properties(rt.plugins))
            return list(created), list(existing)

    created, existing = _run(go)
    click.echo(
        f"created {len(created)} propert{'y' if len(created) == 1 else 'ies'}: {', '.join(created) or '-'}"
    )
    click.echo(f"already there: {len(existing)}")


def _first_day_commands() -> None:
    from .cli_linking import backfill, link

    main.add_command(link)
    main.add_command(backfill)


_first_day_commands()
