"""`npsbot worker` with the counting channel plugged in: `python -m tests.fakes.run_worker`.

Registers `counting` in `channels.registry.FACTORIES` the way a plugin channel would, then runs
the same code as `npsbot worker` (settings from the environment, `build_runtime`, a blocking
`Loop`). It prints one line per milestone on stdout, for start-up measurements:
`ready <epoch>` when the runtime is built and `first-tick <epoch>` when the loop's first pass
(including its drain of due work) has finished.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

from channels import registry

registry.FACTORIES["counting"] = "tests.fakes.counting_channel:build"


def main() -> None:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

    from bot.bootstrap import build_runtime
    from bot.config import load_settings
    from bot.logs import setup_logging
    from scheduler.loop import Loop

    settings = load_settings()
    setup_logging(settings)
    rt = build_runtime(settings)
    loop = Loop(rt, blocking=True)
    print(f"ready {time.time():.6f}", flush=True)
    first = True

    def _executed(event: JobExecutionEvent) -> None:
        nonlocal first
        # The dispatcher's pass, not the other jobs the loop schedules (the insights rollup).
        if first and event.job_id == "tick":
            first = False
            print(f"first-tick {time.time():.6f}", flush=True)

    loop.scheduler.add_listener(_executed, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def _stop(*_: Any) -> None:
        loop.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    loop.start()


if __name__ == "__main__":
    main()
