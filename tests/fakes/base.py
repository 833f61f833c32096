"""A loopback HTTP server that plays a provider: queued answers, recorded requests, spec checks.

Subclasses say what a successful answer looks like (`default_body`) and check each request
against the provider's official description (`problems`); any problem fails the test that
made the request, with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# The providers' official descriptions, beside the checkout (PROVIDER_SPECS overrides, e.g. for
# a git worktree kept elsewhere).
SPECS = Path(
    os.environ.get("PROVIDER_SPECS")
    or Path(__file__).resolve().parents[2].parent / "shared" / "provider-specs"
)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Mapping[str, Any] | None = None
    delay: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, Any] = field(default_factory=dict)  # form fields or JSON body
    raw: bytes = b""


class FakeProvider:
    """Start with `with Fake() as fake:`; `fake.url` is the base URL to configure."""

    def __init__(self) -> None:
        self.answers: deque[Answer] = deque()
        self.requests: list[Recorded] = []
        self.spec_problems: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval (the default 0.5 s per test).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def queue(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    # --- for subclasses -------------------------------------------------------------------
    def default_body(self, req: Recorded) -> Mapping[str, Any]:
        return {}

    def problems(self, req: Recorded) -> list[str]:
        """Reasons the real provider would reject this request (checked against its spec)."""
        return []

    # --- the server -----------------------------------------------------------------------
    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        ctype = h.headers.get("Content-Type", "")
        form: dict[str, Any] = {}
        if "json" in ctype and raw:
            form = json.loads(raw)
        elif raw:
            form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        req = Recorded(
            method=h.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k: v for k, v in h.headers.items()},
            form=form,
            raw=raw,
        )
        self.requests.append(req)
        self.spec_problems += [f"{req.method} {req.path}: {p}" for p in self.problems(req)]
        answer = self.answers.popleft() if self.answers else Answer()
        if answer.delay:
            time.sleep(answer.delay)
        body = answer.body if answer.body is not None else self.default_body(req)
        data = json.dumps(body).encode()
        h.send_response(answer.status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        # The client may have timed out first (slow-provider cases).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            h.wfile.write(data)
