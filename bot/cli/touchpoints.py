"""`npsbot touchpoints create|list|rotate|disable` (also /api/v1/touchpoints)."""

from __future__ import annotations

import json

import click

from bot.cli.common import runtime
from bot.runtime import Runtime
from bot.storage.audit import BY_CLI
from bot.survey import touchpoints as tps
from bot.survey.fields import Invalid


@click.group()
def touchpoints() -> None:
    """Touchpoints: a code, links and QR codes that start a survey with fixed metadata."""


def _show(rt: Runtime, key: str) -> None:
    with rt.db.session() as s:
        tp = tps.find(s, key)
        if tp is None:
            raise click.ClickException(f"no touchpoint {key!r}")
        body = tps.touchpoint_json(tp, None)
        s.expunge(tp)
    body["links"] = tps.links(rt, tp)  # may ask the provider: after the transaction
    click.echo(json.dumps(body, ensure_ascii=False, indent=1))


@touchpoints.command("create")
@click.argument("key")
@click.option("--survey", required=True, help="The survey's key.")
@click.option("--meta", multiple=True, help="Fixed metadata, KEY=VALUE (repeatable).")
@click.option(
    "--window-hours",
    type=int,
    default=24,
    show_default=True,
    help="One survey per customer per this many hours.",
)
def create(key: str, survey: str, meta: tuple[str, ...], window_hours: int) -> None:
    """Create touchpoint KEY for a survey; prints it with its links (JSON)."""
    rt = runtime()
    pairs = [m.partition("=") for m in meta]
    bad = next((m for m, (_k, eq, _v) in zip(meta, pairs, strict=True) if not eq or not _k), None)
    if bad is not None:
        raise click.ClickException(f"--meta {bad!r}: must be KEY=VALUE")
    body = {
        "key": key,
        "survey": survey,
        "metadata": {k: v for k, _eq, v in pairs},
        "window_hours": window_hours,
    }
    try:
        tps.save(rt, tps.parse_touchpoint(body), BY_CLI)
    except Invalid as exc:
        raise click.ClickException(f"{exc.field}: {exc.reason}") from exc
    except tps.Conflict as exc:
        raise click.ClickException(str(exc)) from exc
    _show(rt, key)


@touchpoints.command("list")
def list_cmd() -> None:
    """One line per touchpoint: key, survey, code, enabled or disabled, metadata."""
    rt = runtime()
    with rt.db.session() as s:
        for tp in tps.listed(s):
            state = "enabled" if tp.enabled else "disabled"
            meta = json.dumps(tp.meta, ensure_ascii=False)
            click.echo(f"{tp.key}\t{tp.survey.key}\t{tp.code}\t{state}\t{meta}")


@touchpoints.command("rotate")
@click.argument("key")
def rotate(key: str) -> None:
    """A new code for KEY (the old one is answered "no longer valid"); enables it."""
    rt = runtime()
    try:
        tps.rotate(rt, key, BY_CLI)
    except LookupError:
        raise click.ClickException(f"no touchpoint {key!r}") from None
    _show(rt, key)


@touchpoints.command("disable")
@click.argument("key")
def disable(key: str) -> None:
    """KEY's code is answered "no longer valid" until it is rotated."""
    rt = runtime()
    try:
        tps.disable(rt, key, BY_CLI)
    except LookupError:
        raise click.ClickException(f"no touchpoint {key!r}") from None
    _show(rt, key)
