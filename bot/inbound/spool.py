"""The inbound spool: webhooks kept on local disk while the database cannot take them.

Twilio gives up on a failed webhook within seconds (`Capabilities.brief_webhook_retries`), so
"answer 503 and the provider retries" would lose a message whenever the database is away for
longer. A verified request that fails for a reason a retry could fix (`retryable`) is appended
here instead, fsync'd, and acknowledged; a replayer thread feeds the spool through the normal
inbound path (`handle_inbound`, idempotent on the provider id; replies through the outbox) in
arrival order once the database answers.

On disk: `SPOOL_DIR/<host>-<pid>-<token>.jsonl`, one file per process (appended under
`spool.lock`, an flock shared by every process and thread), one JSON object a line. The
replayer (one at a time: `replay.lock`) renames the pending files to `*.replay` under the same
lock, so no entry is appended to a file after it is claimed, replays them (noting each one
applied in `replay.progress`, so an interrupted replay resumes after it), and deletes them.
An entry that cannot be applied for a reason no retry fixes goes to `rejected.jsonl`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_plus

from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.config import Settings
from bot.inbound.receive import handle_inbound
from bot.inbound.statuses import apply_status
from bot.runtime import Runtime
from channels.base import WebRequest
from channels.errors import BadPayload

log = logging.getLogger(__name__)

PENDING = ".jsonl"
CLAIMED = ".replay"
REJECTED = "rejected.jsonl"
PROGRESS = "replay.progress"  # the claimed entries applied so far, one `file:line` a line
REPLAY_EVERY = 1.0  # seconds between replay attempts while entries wait


def retryable(exc: BaseException) -> bool:
    """A storage failure a retry could fix: connection refused or lost, the server shutting
    down, a lock or pool timeout. Never bad input (integrity, data, programming errors)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout)


def spool_dir(settings: Settings) -> Path:
    """SPOOL_DIR; by default `npsbot-spool` beside the SQLite file, else in the working dir."""
    if settings.spool_dir:
        return Path(settings.spool_dir)
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "npsbot-spool"
    return Path("npsbot-spool").resolve()


@dataclass(frozen=True)
class Entry:
    at: int  # time.time_ns() on arrival: the replay order across processes
    source: str  # the file it came from, and its line: ties and the rejected log
    seq: int
    route: str
    request: WebRequest


def _encode(route: str, req: WebRequest, at: int, seq: int) -> bytes:
    row = {
        "at": at,
        "seq": seq,
        "route": route,
        "method": req.method,
        "url": req.url,
        "headers": dict(req.headers),
        "form": dict(req.form),
        "body": base64.b64encode(req.body).decode(),
    }
    return json.dumps(row, separators=(",", ":")).encode() + b"\n"


def _decode(line: bytes, source: str) -> Entry:
    row = json.loads(line)
    req = WebRequest(
        method=row["method"],
        url=row["url"],
        headers=row["headers"],
        form=row["form"],
        body=base64.b64decode(row["body"]),
    )
    return Entry(row["at"], source, row["seq"], row["route"], req)


@contextmanager
def _flock(path: Path, *, wait: bool = True) -> Iterator[bool]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def files(directory: Path) -> list[Path]:
    """The spool's files that hold entries not yet replayed (pending and claimed)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return [
        directory / n
        for n in sorted(names)
        if (n.endswith(PENDING) and n != REJECTED) or n.endswith(CLAIMED)
    ]


class Spool:
    """This process's writer: `append` is safe from any thread, and beside other processes."""

    def __init__(self, directory: Path, max_bytes: int, max_entries: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._seq = 0
        self._lines: dict[Path, tuple[int, int]] = {}  # file -> (bytes counted, lines in them)

    def append(self, route: str, req: WebRequest) -> bool:
        """Keep a verified request durably; False when the spool is full (nothing written)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock, _flock(self.directory / "spool.lock"):
            size, count = self._usage()
            line = _encode(route, req, time.time_ns(), self._seq)
            if size + len(line) > self.max_bytes or count + 1 > self.max_entries:
                log.error(
                    "inbound spool full (%d bytes, %d webhooks in %s): answering 503",
                    size,
                    count,
                    self.directory,
                )
                return False
            fd = self._file()
            os.write(fd, line)
            os.fsync(fd)
            self._seq += 1
            return True

    def _file(self) -> int:
        # The replayer renames a pending file to claim it: then start a new one.
        if self._fd is not None and self._path is not None:
            try:
                if os.stat(self._path).st_ino == os.fstat(self._fd).st_ino:
                    return self._fd
            except FileNotFoundError:
                pass
            os.close(self._fd)
        name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}{PENDING}"
        self._path = self.directory / name
        self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        _fsync_dir(self.directory)  # the new file's name survives a crash too
        return self._fd

    def _usage(self) -> tuple[int, int]:
        """Bytes and entries waiting in the whole directory (every process's files)."""
        size = count = 0
        seen: dict[Path, tuple[int, int]] = {}
        for path in files(self.directory):
            try:
                now = path.stat().st_size
            except FileNotFoundError:
                continue
            done, lines = self._lines.get(path, (0, 0))
            if now < done:
                done, lines = 0, 0
            if now > done:
                with path.open("rb") as f:
                    f.seek(done)
                    lines += f.read(now - done).count(b"\n")
            seen[path] = (now, lines)
            size += now
            count += lines
        self._lines = seen
        return size, count


_writers: dict[Path, Spool] = {}
_writers_lock = threading.Lock()


def writer(settings: Settings) -> Spool:
    """This process's writer for the settings' spool directory."""
    directory = spool_dir(settings)
    with _writers_lock:
        spool = _writers.get(directory)
        if spool is None:
            spool = Spool(directory, settings.spool_max_bytes, settings.spool_max_entries)
            _writers[directory] = spool
        return spool


def _read(paths: list[Path]) -> list[Entry]:
    entries: list[Entry] = []
    for path in paths:
        for n, line in enumerate(path.read_bytes().splitlines(keepends=True)):
            if not line.endswith(b"\n"):
                # Torn by a crash before its fsync: never acknowledged, so Twilio retried it.
                log.warning("spool %s: incomplete last line skipped", path.name)
                continue
            try:
                entries.append(_decode(line, f"{path.name}:{n + 1}"))
            except (ValueError, KeyError, TypeError):
                log.error("spool %s: line %d unreadable, skipped", path.name, n + 1)
    entries.sort(key=lambda e: (e.at, e.source.partition(":")[0], e.seq))
    return entries


def replay(rt: Runtime, directory: Path) -> int | None:
    """Replay every waiting entry in arrival order; how many were applied, or None when the
    database still cannot take them (the rest wait) or another replayer is at work."""
    if not files(directory):
        return 0
    with _flock(directory / "replay.lock", wait=False) as mine:
        if not mine:
            return None
        with _flock(directory / "spool.lock"):
            for path in files(directory):
                if path.name.endswith(PENDING):
                    path.rename(path.with_suffix(CLAIMED))
        claimed = [p for p in files(directory) if p.name.endswith(CLAIMED)]
        # What an interrupted replay applied already (claimed files never change): skipped, so
        # a flapping database does not replay old delivery reports over newer ones.
        progress = directory / PROGRESS
        applied = set(progress.read_text().split()) if progress.exists() else set()
        done = 0
        with progress.open("a") as mark:
            for entry in _read(claimed):
                if entry.source in applied:
                    continue
                try:
                    _apply(rt, entry)
                except SQLAlchemyError as exc:
                    if retryable(exc):
                        log.warning(
                            "spool replay paused: storage unavailable (%s: %s)",
                            type(exc).__name__,
                            str(getattr(exc, "orig", exc)).splitlines()[0][:200],
                        )
                        return None
                    _reject(directory, entry, f"{type(exc).__name__}")
                except BadPayload as exc:
                    _reject(directory, entry, str(exc))
                mark.write(entry.source + "\n")
                mark.flush()
                done += 1
        for path in claimed:
            path.unlink()
        progress.unlink()
        if done:
            log.info("spool replayed: %d webhooks", done)
        return done


def _apply(rt: Runtime, entry: Entry) -> None:
    channel = rt.route(entry.route)
    if channel is None:
        raise BadPayload(f"no channel is configured for {entry.route!r}")
    parsed = channel.parse(entry.request)
    for msg in parsed.messages:
        handle_inbound(rt, msg, inline=False)  # the webhook was answered: replies via outbox
    for status in parsed.statuses:
        apply_status(rt, status)


def _reject(directory: Path, entry: Entry, why: str) -> None:
    log.error("spool entry %s cannot be applied (%s): kept in %s", entry.source, why, REJECTED)
    line = _encode(entry.route, entry.request, entry.at, entry.seq)
    with (directory / REJECTED).open("ab") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def forget(directory: Path, addresses: Collection[str]) -> int:
    """Drop the rejected entries that name any of `addresses` (an erased customer's: their
    raw payloads would outlive the erasure); how many. Under `replay.lock`: the replayer is
    the only other writer of the rejected log."""
    path = directory / REJECTED
    if not addresses or not path.exists():
        return 0
    with _flock(directory / "replay.lock"):
        lines = path.read_bytes().splitlines(keepends=True)
        keep = [line for line in lines if not _names(line, addresses)]
        if len(keep) < len(lines):
            fresh = path.with_name(f"{REJECTED}.new")
            with fresh.open("wb") as f:
                f.writelines(keep)
                f.flush()
                os.fsync(f.fileno())
            os.replace(fresh, path)
            _fsync_dir(directory)
    return len(lines) - len(keep)


def after_erasure(rt: Runtime, addresses: Collection[str]) -> None:
    """What an erasure's entry points do after its commit, outside the transaction: SQLite's
    write-ahead log emptied (it keeps page images from before), the spool's rejected entries
    that name the person dropped."""
    rt.db.truncate_wal()
    forget(spool_dir(rt.settings), addresses)


def _names(line: bytes, addresses: Collection[str]) -> bool:
    """Whether a spooled request mentions one of `addresses`: in its form, or its body as sent
    (JSON) or URL-decoded (a form body: `%2B52…`)."""
    try:
        req = _decode(line, "").request
    except (ValueError, KeyError, TypeError):
        return any(a.encode() in line for a in addresses)
    body = req.body.decode("utf-8", "replace")
    seen = f"{json.dumps(req.form)}\n{body}\n{unquote_plus(body)}"
    return any(a in seen for a in addresses)


class Replayer:
    """One daemon thread per process that replays the spool while it holds entries."""

    def __init__(self, rt: Runtime, directory: Path) -> None:
        self.rt = rt
        self.directory = directory
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def kick(self) -> None:
        """Start the thread unless it runs; it stops by itself once the spool is empty."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="spool-replay")
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                replay(self.rt, self.directory)
            except Exception:
                log.exception("spool replay failed; retrying")
            with self._lock:
                # Checked under the lock `kick` takes, so an entry appended now is not missed.
                if not files(self.directory):
                    self._thread = None
                    return
            time.sleep(REPLAY_EVERY)
