"""One-way staff notifications through Apprise: Slack, Teams, e-mail, Discord… by URL.

Not a customer channel (nothing comes back: no webhook, no registry entry), but it follows the
same rule: the provider library is imported here and nowhere else.

An Apprise URL carries the service's credentials (a webhook token, an SMTP password). Apprise's
own plugins declare those parts `"private": True` in their `template_tokens` and print a URL
only as `url(privacy=True)`; likewise `SECRETS` names the settings that hold such URLs, and this
module never logs one whole: only `private(url)`. bot.staff stores a hash of it, never the URL.
https://github.com/caronc/apprise/wiki/Development_Contribution
"""

from __future__ import annotations

import logging
import threading
import warnings

import apprise

log = logging.getLogger(__name__)

name = "apprise"
# The settings whose values are Apprise URLs, hence secrets (masked by bot.logs through
# `channels.registry.secrets`).
SECRETS = ("staff_notify_urls",)

# Apprise loads its plugins on first use, which is not thread-safe: one set-up at a time.
_setup = threading.Lock()


def private(url: str) -> str:
    """What of a URL may be logged: its scheme (the service), never its tokens."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://…" if sep else "(not a URL)"


def notify(url: str, title: str, body: str) -> bool:
    """Send one notification to an Apprise URL; True when the service accepted it."""
    with _setup, warnings.catch_warnings():
        # One of Apprise's plugins imports `imghdr`, deprecated since Python 3.11: Apprise's
        # business, not a problem of ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        sender = apprise.Apprise()
        if not sender.add(url):
            log.warning("notification URL %s is not a valid Apprise URL", private(url))
            return False
    return bool(sender.notify(body=body, title=title))
