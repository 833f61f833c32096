"""Typed send errors: the dispatcher decides from the type, never from a message string."""

from __future__ import annotations


class BadPayload(ValueError):
    """A webhook request whose body no provider would send (answered 400)."""


class SendError(Exception):
    """Base of every failure to hand a message to a provider."""

    retryable: bool = False
    # The provider's own error code, for the record (not for decisions).
    code: str | None

    def __init__(self, message: str = "", *, code: str | int | None = None) -> None:
        super().__init__(message or type(self).__name__)
        self.code = None if code is None else str(code)


class ContactStopped(SendError):
    """The person opted out at the provider (Twilio 21610)."""


class Unreachable(SendError):
    """The address cannot receive on this channel (not a mobile, no WhatsApp, chat not found).

    The dispatcher moves on to the next channel."""


class OutsideWindow(SendError):
    """Free-form text outside the provider's session window: send an approved template."""


class ChannelConfig(SendError):
    """Our configuration is wrong (bad credentials, sender not enabled); an operator must act."""


class Throttled(SendError):
    """The provider asked us to slow down; retry after `retry_after` seconds."""

    retryable = True

    def __init__(
        self, message: str = "", *, code: str | int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class SendFailed(SendError):
    """Anything else. Timeouts and provider 5xx are retryable; a rejected request is not."""

    def __init__(
        self, message: str = "", *, code: str | int | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable
