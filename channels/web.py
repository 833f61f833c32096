"""The web channel: npsbot's own survey page, `/s/<token>` (bot/web/survey_page.py).

No provider and no credentials. Its "send" is a no-op: the dispatcher records the invitation
`asked` on `web`, which is all it takes for its page to accept the answer; the business gives
the customer the page's URL itself (the purchases API's `survey_url`, in its own e-mail). Its
answers are not webhooks: the page posts them straight to `bot.inbound.page`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from channels.base import Outbound, Parsed, Sent, WebRequest, WebResponse
from channels.errors import BadPayload

SECRETS: tuple[str, ...] = ()  # no credentials


def address(contact_id: int) -> str:
    """A contact's address on the web channel (one per contact: the page names the invitation)."""
    return f"web-{contact_id}"


class Web:
    name = "web"
    route = "web"
    supports_buttons = False  # the page draws its own 0-10 buttons
    inline_replies = True

    def verify(self, request: WebRequest) -> bool:
        return False  # nothing posts to /webhooks/web: answers come through the page

    def parse(self, request: WebRequest) -> Parsed:
        raise BadPayload("the web channel takes no webhooks")

    def respond(self, request: WebRequest, replies: Sequence[Outbound]) -> WebResponse:
        return WebResponse(404)

    def send(self, msg: Outbound) -> Sent:
        return Sent(provider_id=f"web-{uuid.uuid4().hex}")


def build(settings: object) -> Web:
    return Web()
