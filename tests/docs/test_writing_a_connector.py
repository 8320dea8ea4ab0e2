"""docs/writing-a-connector.md is real: its files (the code blocks whose first line names one, ``# <path>``) are
extracted into a folder of their own and used as the page says, without installing anything: the package's
``pyproject.toml`` declares what the page promises, the connector registers with a plugin manager, imports only
the public surface, its emulator joins the sandbox with the config section it writes, and the page's own tests
(with the page's pytest configuration) pass."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from cosync_worker.hooks import PluginManager
from cosync_worker.sandbox import SandboxStack

from ..test_public_surface import PUBLIC, _core_imports

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "writing-a-connector.md"
_BLOCK = re.compile(r"^```(python|toml)\n# (\S+)\n(.*?)^```$", re.S | re.M)
FILES = {
    "pyproject.toml",
    "cosync_mycloud/emulator.py",
    "cosync_mycloud/plugin.py",
    "tests_mycloud/conftest.py",
    "tests_mycloud/rep.py",
    "tests_mycloud/test_mycloud.py",
    "tests_mycloud/test_conformance.py",
}
# The page's layout says these are empty.
EMPTY = ("cosync_mycloud/__init__.py", "tests_mycloud/__init__.py")


def doc_files(text: str) -> dict[str, str]:
    """The files the page gives, by path (the block's first line ``# <path>`` is kept: it is a comment)."""
    found: dict[str, str] = {}
    for _, path, body in _BLOCK.findall(text):
        assert path not in found, f"{path} is given twice"
        found[path] = f"# {path}\n{body}"
    return found


def write_package(folder: Path) -> Path:
    for path, body in doc_files(DOC.read_text(encoding="utf-8")).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(body, encoding="utf-8")
    for path in EMPTY:
        (folder / path).touch()
    return folder


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    folder = write_package(tmp_path / "cosync-mycloud")
    sys.path.insert(0, str(folder))
    try:
        yield folder
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == "cosync_mycloud" or m.startswith("cosync_mycloud.")]:
            del sys.modules[name]


def test_the_page_gives_every_file_of_its_layout() -> None:
    assert set(doc_files(DOC.read_text(encoding="utf-8"))) == FILES


def test_pyproject_declares_the_package_its_entry_point_and_the_pytest_config(package: Path) -> None:
    project = tomllib.loads((package / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "cosync-mycloud" and project["project"]["version"]
    module = project["project"]["entry-points"]["cosync.connectors"]["mycloud"]
    assert module == "cosync_mycloud.plugin"
    assert project["tool"]["pytest"]["ini_options"]["asyncio_mode"] == "auto"
    assert (package / module.replace(".", "/")).with_suffix(".py").is_file()


def test_the_connector_imports_only_the_public_surface(package: Path) -> None:
    for path in ("cosync_mycloud/plugin.py", "cosync_mycloud/emulator.py"):
        source = (package / path).read_text(encoding="utf-8")
        ast.parse(source)
        assert _core_imports(source) - PUBLIC == set(), path


async def test_registered_it_declares_its_loop_properties_route_and_joins_the_sandbox(package: Path) -> None:
    import importlib

    plugin = importlib.import_module("cosync_mycloud.plugin")
    pm = PluginManager()
    pm.register(plugin, name="mycloud")
    (found,) = pm.connectors()
    assert found.spec.name == "mycloud" and found.spec.event_types == ("deal.propertyChange",)
    assert [(s.name, s.interval_seconds) for s in found.spec.schedules] == [("mycloud_poll", 300)]
    assert [p.name for specs in pm.hook.cosync_hubspot_properties() for p in specs] == ["mycloud_stage"]
    # What `cosync sandbox --write-config` does with the installed plugins.
    async with SandboxStack(plugins=pm) as stack:
        info = stack.connection_info()
        assert set(info) == {"hubspot", "mycloud", "relay"}
        section = stack.config(package / "data", plugins=pm)["connectors"]["mycloud"]
    assert section == {"base_url": info["mycloud"]["base_url"], "token": "sandbox-mycloud-token"}


def test_its_tests_pass_as_the_page_runs_them(package: Path) -> None:
    # As "Run them from the package's folder" says; the folder is on the path instead of installed.
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests_mycloud"],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert "7 passed" in ran.stdout
