"""The long-running processes: `npsbot serve` and `npsbot worker`."""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
from typing import Any

import click

from bot.bootstrap import build_runtime, survey_drift
from bot.cli.common import settings
from bot.config import Settings
from bot.logs import setup_logging, warm_up
from scheduler.loop import Loop


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default: $PORT or 8000.")
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True)
def serve(host: str, port: int | None, threads: int) -> None:
    """Run the web app and, in the same process, the dispatcher loop (single-machine default)."""
    from bot.web.serve import serve as run

    conf = settings()
    port = port or _env_port()
    rt = build_runtime(conf)  # fail here, in one line, if the database is not ready
    try:
        drift = survey_drift(rt)
    finally:
        rt.close()
    _check_free(host, port)  # before "serving on": a busy port is one line, not five tracebacks
    for line in _notes(conf, [c.key for c in drift]):
        click.echo(line)
    run(conf, host=host, port=port, threads=threads)


def _env_port() -> int:
    raw = os.environ.get("PORT", "").strip() or "8000"
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise click.ClickException(f"PORT must be a port number 1–65535, got {raw!r}")
    return int(raw)


def _check_free(host: str, port: int) -> None:
    try:
        with socket.create_server((host, port), reuse_port=False) as _:
            pass
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"cannot listen on {host}:{port} (address already in use): another server (a "
                "second `make run`?) is using it; stop it, or pick another with --port or PORT"
            ) from exc
        why = exc.strerror if isinstance(exc, socket.gaierror) else os.strerror(exc.errno or 0)
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({why}): check --host and --port"
        ) from exc


def _notes(conf: Settings, drifted: list[str]) -> list[str]:
    """What a first run should know, one line each."""
    out = []
    if conf.business_name == "npsbot":
        out.append(
            'BUSINESS_NAME is not set: customers see "npsbot" as your business '
            "(e.g. in the survey's help text); set BUSINESS_NAME=YourShop"
        )
    if drifted and conf.surveys_file:
        out.append(
            f"SURVEYS_FILE differs from the database for {', '.join(drifted)}: the database's "
            f"definitions are used (SURVEYS_FILE only seeds an empty one); "
            f"`npsbot surveys import {conf.surveys_file}` applies the file"
        )
    return out


@click.command()
def worker() -> None:
    """Run the dispatcher loop (scale out: any number of workers on PostgreSQL)."""
    conf = settings()
    setup_logging(conf)
    warm_up()
    rt = build_runtime(conf)
    loop = Loop(rt, blocking=True)

    def _stop(*_: Any) -> None:
        loop.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    click.echo(f"worker started: channels {', '.join(sorted(rt.channels)) or 'none'}")
    loop.start()
