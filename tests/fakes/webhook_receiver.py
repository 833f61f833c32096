"""A business's webhook endpoint on loopback: every request is verified with the Standard
Webhooks library itself (`standardwebhooks`), once per secret the receiver holds; a request that
any of them refuses is a problem that fails the test. Answers are queued (`Answer(500)`)."""

from __future__ import annotations

import json
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.fakes.base import Answer, FakeProvider, Recorded

__all__ = ["Answer", "Receiver"]


class Receiver(FakeProvider):
    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = list(secrets)  # each must verify every request (a rotation: both)

    def problems(self, req: Recorded) -> list[str]:
        out = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(req.raw, req.headers)
            except WebhookVerificationError as exc:
                out.append(f"signature for {secret[:10]}…: {exc}")
        return out

    @property
    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]

    @property
    def types(self) -> list[str]:
        return [r.form["type"] for r in self.requests]

    def data(self, i: int = -1) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[i].raw)
        return dict(body["data"])
