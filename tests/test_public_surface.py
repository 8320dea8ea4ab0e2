"""A plugin imports only the core's public surface (docs/writing-a-connector.md, "Public surface"): every module
of every ``plugins/*/`` package (not their tests) is read with ``ast``, and an import of any other core module
fails here, naming the file and the module."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

PUBLIC = frozenset(
    {
        "cosync_worker.config",  # SecretRef, ConfigError for a connector's config model
        "cosync_worker.conflicts",  # the conflict book a connector records conflicts in
        "cosync_worker.connector",  # the SDK: Connector, @on/@every/@route/@client, state, locks, RemoteClient
        "cosync_worker.errors",  # Retry, PermanentError, ProblemError, FieldError
        "cosync_worker.events",  # Event, ObjectRef
        "cosync_worker.hooks",  # hookimpl and the declarations hooks return
        "cosync_worker.hubspot",  # HubSpotClient
        "cosync_worker.logs",  # get_logger
        "cosync_worker.notify",  # Notice, Verdict, Channel: what a connector sends and a channel receives
        "cosync_worker.sandbox",  # Emulator, eventbridge_sink
        "cosync_worker.sandbox.clouds",  # the core's emulators of the three clouds, for a cosync_emulators declaration
        "cosync_worker.store",  # Store and its types (AuditEntry, Lease, ...), acquire
        "cosync_worker.testing",  # fixtures, FakeClock, conformance suite
    }
)


def _core_imports(source: str) -> set[str]:
    """The ``cosync_worker`` modules a source imports (``from cosync_worker import x`` names ``cosync_worker.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "cosync_worker")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "cosync_worker":
                found.update(f"cosync_worker.{a.name}" for a in node.names)
            elif node.module.startswith("cosync_worker."):
                found.add(node.module)
    return found


def _package_modules() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for package in sorted(p for p in PLUGINS.glob("*/cosync_*") if p.is_dir() and p.suffix != ".egg-info"):
        for path in sorted(package.rglob("*.py")):
            found[path.relative_to(PLUGINS).as_posix()] = _core_imports(path.read_text(encoding="utf-8"))
    return found


def test_plugins_import_only_the_public_surface() -> None:
    modules = _package_modules()
    assert (
        "cosync_example/cosync_example/plugin.py" in modules and "cosync_aws/cosync_aws/plugin.py" in modules
    )
    assert not any("/tests_" in m for m in modules)
    private = {module: sorted(imported - PUBLIC) for module, imported in modules.items()}
    assert {m: found for m, found in private.items() if found} == {}


def test_every_public_module_exists() -> None:
    # A name in PUBLIC that no longer imports would let a plugin's broken import pass the scan above.
    import importlib

    for module in sorted(PUBLIC):
        assert importlib.import_module(module).__name__ == module


def test_the_clouds_emulators_are_public_names() -> None:
    from cosync_worker.sandbox import clouds
    from cosync_worker.sandbox.google import GoogleEmulator
    from cosync_worker.sandbox.microsoft import MicrosoftEmulator
    from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

    assert (clouds.GoogleEmulator, clouds.MicrosoftEmulator, clouds.PartnerCentralEmulator) == (
        GoogleEmulator,
        MicrosoftEmulator,
        PartnerCentralEmulator,
    )
    assert set(clouds.__all__) <= set(dir(clouds))


def test_the_scan_sees_every_form_of_import() -> None:
    source = (
        "import cosync_worker.worker.backoff\nfrom cosync_worker import relay\n"
        "from cosync_worker.relay.jobs import update_job\nfrom . import local\nfrom cosync_worker.hooks import x\n"
    )
    assert _core_imports(source) == {
        "cosync_worker.worker.backoff",
        "cosync_worker.relay",
        "cosync_worker.relay.jobs",
        "cosync_worker.hooks",
    }
