"""Per-channel send rates, shared across processes through Redis when REDIS_URL is set.

The `limits` library keeps the counters (moving window); a sender waits for its turn rather
than failing, so a burst of due surveys is spread out at the provider's pace.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, RateLimitItemPerSecond, storage, strategies


class Limiter:
    def __init__(self, rates: dict[str, int], redis_url: str | None = None) -> None:
        self.items: dict[str, RateLimitItem] = {
            name: RateLimitItemPerSecond(n) for name, n in rates.items()
        }
        self.store = storage.storage_from_string(redis_url or "memory://")
        self.window = strategies.MovingWindowRateLimiter(self.store)

    def acquire(self, channel: str, deadline: float = 30.0) -> bool:
        """Wait until CHANNEL may send one more message; False after `deadline` seconds."""
        item = self.items.get(channel)
        if item is None:
            return True  # no limit (sandbox, test channels)
        give_up = time.monotonic() + deadline
        while not self.window.hit(item, "npsbot-send", channel):
            reset, _left = self.window.get_window_stats(item, "npsbot-send", channel)
            if time.monotonic() >= give_up:
                return False
            time.sleep(min(max(reset - time.time(), 0.001), 0.05))
        return True
