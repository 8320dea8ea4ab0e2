"""The image's install: the runtime wheels (cosync and the three cloud connectors) and plain pytest in a fresh
venv. pytest starts (the plugin registers nothing without its extra), and `cosync plugins` shows the cloud
connectors and no example. Dependencies come from the package index, constrained by the image's lock
(requirements/image.txt) and pip's cache, so the test is slow but bounded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, image_plugins

LOCK = REPO / "requirements" / "image.txt"
_NOT_SOURCES = (".git", ".venv", "build", "node_modules", "cdk.out", "*.egg-info", "__pycache__", ".*_cache")


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-1500:]}{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_runtime_wheels_with_plain_pytest(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    # setuptools leaves build/ beside the sources it builds; building a copy keeps the work tree clean (a
    # build/lib copy of the packages would otherwise be linted and type-checked on the next `make test`).
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*_NOT_SOURCES))
    sources = [src, *(src / "plugins" / f"cosync_{name}" for name in sorted(image_plugins()))]
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, *sources, cwd=tmp_path)
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    bin_dir = venv / "bin"
    _run(
        # --no-compile: what is asserted is what gets installed; compiling it all was half the test's CPU.
        bin_dir / "pip", "install", "-q", "--disable-pip-version-check", "--no-compile", "-c", LOCK,
        *sorted(wheels.glob("*.whl")), "pytest",
        cwd=tmp_path,
    )  # fmt: skip

    version = _run(bin_dir / "pytest", "--version", cwd=tmp_path)
    assert "pytest" in version.stdout + version.stderr
    (tmp_path / "test_ok.py").write_text("def test_ok() -> None:\n    pass\n")
    header = _run(bin_dir / "pytest", "-p", "no:cacheprovider", "test_ok.py", cwd=tmp_path)
    assert "1 passed" in header.stdout
    assert "cosync-worker[testing]" in header.stdout  # the plugin says what it needs; pytest still runs
    listing = _run(bin_dir / "cosync", "plugins", cwd=tmp_path).stdout
    connectors = {
        line.split(": connector ")[1].strip("'") for line in listing.splitlines() if ": connector " in line
    }
    assert {"aws", "gcp", "microsoft"} <= connectors
    assert "example" not in listing
    frozen = _run(bin_dir / "pip", "freeze", cwd=tmp_path).stdout.lower()
    for test_only in ("pytest-asyncio", "moto", "werkzeug", "cosync-example"):
        assert test_only not in frozen, test_only
