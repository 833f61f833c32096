"""Channels import only channels: nothing under channels/ reaches into npsbot or flask."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import channels

FORBIDDEN = ("bot", "scheduler", "scoring", "flask")
ROOT = Path(channels.__file__).parent
MODULES = sorted(ROOT.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):  # function-level and TYPE_CHECKING imports included
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_channel_module_imports_nothing_of_ours_outside_channels(path: Path) -> None:
    bad = {n for n in _imports(path) if n.split(".")[0] in FORBIDDEN}
    assert bad == set(), f"{path.name} imports {sorted(bad)}"
