"""The core names no cloud: outside the emulators' own packages (``sandbox/<cloud>/``) and the pytest fixtures
(``testing/``), no identifier and no string in ``cosync_worker`` names a co-sell cloud. Read with ``ast``, so
docstrings and comments may still mention them. AWS as the deployment's infrastructure (SQS, DynamoDB, SNS,
Secrets Manager) is not a co-sell cloud: ``aws`` counts only as a whole string (a connector's name) or as the
``aws.``/``aws_`` prefix of one (a notice kind, a HubSpot property)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "cosync_worker"
NAMES = re.compile(r"partner[ _-]?central|microsoft|google|gcp", re.IGNORECASE)
AWS_STRING = re.compile(r"^aws([._]|$)", re.IGNORECASE)

# Modules still naming a cloud while issue 16 moves them behind hooks: none is left. Nothing may join this list.
PENDING: frozenset[str] = frozenset()
# What this part of the issue moved behind cosync_notice_kinds, cosync_emulators and cosync_demo.
MOVED = ("notify/", "sandbox/stack.py", "sandbox/__init__.py", "demo/", "cli.py", "hooks/")


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _cloud_names(source: str) -> set[str]:
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    hits: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if AWS_STRING.match(node.value):
                hits.add(node.value)
            names = [node.value]
        elif isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.alias):
            names = [node.name, node.asname or ""]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.arg):
            names = [node.arg]
        else:
            continue
        hits.update(m.group(0) for name in names for m in NAMES.finditer(name))
    return hits


def _core_modules() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(CORE).parts
        if parts[0] == "testing" or (parts[0] == "sandbox" and len(parts) > 2 and parts[1] != "hubspot"):
            continue  # the fixtures, and each cloud's emulator package (the stack starts them through hooks)
        found["/".join(parts)] = _cloud_names(path.read_text(encoding="utf-8"))
    return found


def test_no_core_module_names_a_cloud_beyond_those_still_pending() -> None:
    naming = {module: sorted(hits) for module, hits in _core_modules().items() if hits}
    assert set(naming) <= PENDING, {m: h for m, h in naming.items() if m not in PENDING}


def test_notify_sandbox_stack_and_demo_name_no_cloud() -> None:
    modules = _core_modules()
    moved = [m for m in modules if m.startswith(MOVED)]
    assert "notify/catalogue.py" in moved and "sandbox/stack.py" in moved and "demo/runner.py" in moved
    assert {m: modules[m] for m in moved if modules[m]} == {}


def test_the_scan_sees_names_in_code_but_not_in_docstrings() -> None:
    assert _cloud_names('CLOUDS = {"aws": "AWS", "microsoft": "Microsoft"}') == {
        "aws",
        "AWS",
        "microsoft",
        "Microsoft",
    }
    assert _cloud_names("x = stack.partnercentral\nimport cosync_gcp") == {"partnercentral", "gcp"}
    assert _cloud_names('"""Talks to Google."""\narn = "arn:aws:sns:us-east-1:1:t"\nself._aws = 1') == set()
