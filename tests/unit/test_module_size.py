"""Modules stay under ~400 lines; a longer one says why in its docstring, in a line that starts
"Over 400 lines"."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "channels", "scheduler", "scoring")
LIMIT = 400


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_long_module_says_why(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    if source.count("\n") <= LIMIT:
        return
    doc = ast.get_docstring(ast.parse(source)) or ""
    assert "Over 400 lines" in doc, f"{path.relative_to(ROOT)}: split it, or say why it is long"
