"""The long-running processes: `npsbot serve` and `npsbot worker`."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import click

from bot.bootstrap import build_runtime
from bot.cli.common import settings
from bot.logs import setup_logging, warm_up
from scheduler.loop import Loop


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: $PORT or 8000.")
@click.option("--threads", type=int, default=8, show_default=True)
def serve(host: str, port: int | None, threads: int) -> None:
    """Run the web app and, in the same process, the dispatcher loop (single-machine default)."""
    from bot.web.serve import serve as run

    conf = settings()
    build_runtime(conf).close()  # fail here, in one line, if the database is not ready
    run(conf, host=host, port=port or int(os.environ.get("PORT", 8000)), threads=threads)


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
