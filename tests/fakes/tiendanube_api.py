"""A loopback Tiendanube store API: `GET /v1/{store_id}/orders/{id}` answers the queued order.

Requests are checked against what the API requires (https://tiendanube.github.io/api-documentation/intro):
the token in `Authentication: bearer …` (not `Authorization`) and a `User-Agent` naming the app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tests.fakes.base import FakeProvider, Recorded

ORDER_PATH = re.compile(r"/v1/\d+/orders/\d+")


class FakeTiendanube(FakeProvider):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def default_body(self, req: Recorded) -> Mapping[str, Any]:
        return {}

    def problems(self, req: Recorded) -> list[str]:
        found = []
        if req.method != "GET" or not ORDER_PATH.fullmatch(req.path):
            found.append("only GET /v1/{store_id}/orders/{id} is played here")
        if req.headers.get("Authentication") != f"bearer {self.token}":
            found.append("the token goes in 'Authentication: bearer <token>'")
        if not req.headers.get("User-Agent"):
            found.append("a User-Agent naming the app is required")
        return found
