"""The design card's boundaries, checked on the source: channels are thin, scoring is pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = {"flask", "werkzeug", "gunicorn"}
PROVIDERS = {"twilio", "telegram"}


def _imports(path: Path) -> set[str]:
    """Top-level packages a module imports at run time (TYPE_CHECKING blocks don't count)."""
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for n in ast.walk(node)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


RULES = [
    ("scoring", WEB | PROVIDERS | {"sqlalchemy", "bot", "channels", "scheduler"}),
    ("scheduler", WEB | PROVIDERS),
    ("channels", WEB | {"bot", "scheduler", "scoring"}),
]
# The web layer and the server entry point are the only parts of bot/ that load Flask/gunicorn.
WEB_LAYER = ("web", "serve.py")


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [
        pytest.param(p, forbidden, id=str(p.relative_to(ROOT)))
        for package, forbidden in RULES
        for p in sorted((ROOT / package).rglob("*.py"))
    ]
    + [
        pytest.param(p, WEB | PROVIDERS, id=str(p.relative_to(ROOT)))
        for p in sorted((ROOT / "bot").rglob("*.py"))
        if p.relative_to(ROOT / "bot").parts[0] not in WEB_LAYER
    ],
)
def test_module_respects_the_layering(path: Path, forbidden: set[str]) -> None:
    imported = _imports(path) & forbidden
    assert not imported, f"{path.relative_to(ROOT)} imports {sorted(imported)}"
