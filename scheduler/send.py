"""The one way scheduler/ hands a message to a provider: surveys, queued replies and staff
alerts all wait for the channel's rate limiter first, then send, with no transaction open."""

from __future__ import annotations

from collections.abc import Mapping

from channels.base import Channel, Outbound, Sent
from channels.errors import SendError, Throttled
from scheduler.ratelimit import Limiter


class Sender:
    def __init__(self, channels: Mapping[str, Channel], limiter: Limiter | None = None) -> None:
        self.channels = channels
        self.limiter = limiter

    def wait(self, channel: str) -> None:
        """Wait for the channel's next free slot; Throttled when none comes in time."""
        if self.limiter is not None and not self.limiter.acquire(channel):
            raise Throttled("local rate limit: no slot within 30 s")

    def deliver(self, msg: Outbound) -> Sent:
        """The provider call alone, for a caller that already `wait`ed for its slot."""
        channel = self.channels.get(msg.channel)
        if channel is None:
            raise SendError(f"channel {msg.channel} is not configured")
        return channel.send(msg)

    def send(self, msg: Outbound) -> Sent:
        """Send one message at the channel's pace. Raises SendError."""
        self.wait(msg.channel)
        return self.deliver(msg)
