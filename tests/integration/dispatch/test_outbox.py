"""Queued replies get the invitations' treatment: a lease, a visible `unknown`, an operator's
`npsbot outbox unknown|resolve`, and each reply's outcome recorded on its own.

A worker's death is played by a channel that raises after the provider took the message (a
connection reset on the way back): the reply may or may not have gone out, exactly what a
SIGKILL between the send and the record leaves (`test_outbox_workers.py` kills real workers).
A database that cannot take one record is a real database failure: a trigger that refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from bot.cli import main
from bot.runtime import Runtime
from bot.storage.messages import queue_outbound
from bot.storage.models import Message
from bot.survey.operator import resolve_reply, unknown_replies
from channels.base import Outbound, Sent
from scheduler.loop import tick
from scheduler.retry import lease_for
from tests.conftest import Clock, at_hours
from tests.fakes.counting_channel import CountingChannel, sent_counts


class CrashingChannel(CountingChannel):
    """Takes the message (it is in the record file), then fails as if the answer was lost."""

    crashes = 1  # how many sends crash before the channel behaves

    def send(self, msg: Outbound) -> Sent:
        sent = super().send(msg)
        if self.crashes:
            self.crashes -= 1
            raise ConnectionResetError("the provider's answer never came back")
        return sent


class SlowChannel(CountingChannel):
    """Each send takes a minute of the test's clock (a provider answering slowly)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        super().__init__(path)
        self.clock = clock

    def send(self, msg: Outbound) -> Sent:
        self.clock.advance(seconds=60)
        return super().send(msg)


def queue(rt: Runtime, clock: Clock, n: int, to: str = "reply-{i}") -> list[int]:
    """`n` replies queued on the counting channel, to `reply-1` … `reply-n`."""
    with rt.db.session_for_update() as s:
        rows = [
            queue_outbound(
                s, Outbound("counting", to.format(i=i), "¡Gracias!"), contact_id=None, now=clock()
            )
            for i in range(1, n + 1)
        ]
        s.flush()
        return [row.id for row in rows]


def statuses(rt: Runtime) -> list[str | None]:
    with rt.db.session() as s:
        return list(s.scalars(select(Message.status).order_by(Message.id)))


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return tmp_path / "sent.log"


def test_a_reply_whose_worker_died_mid_send_becomes_unknown_and_is_never_resent(
    rt: Runtime, clock: Clock, record: Path
) -> None:
    rt.channels["counting"] = CrashingChannel(record)
    [reply] = queue(rt, clock, 1)

    tick(rt)  # sent, but the outcome never recorded
    assert statuses(rt) == ["sending"]
    assert unknown_replies(rt) == []  # still under its lease
    clock.advance(seconds=lease_for(rt).total_seconds() + 1)
    tick(rt)
    tick(rt)

    assert statuses(rt) == ["unknown"]
    assert unknown_replies(rt) == [(reply, "counting", "reply-1", "reply", clock())]
    assert sent_counts(record, "reply-") == {1: 1}  # never a silent resend


def test_an_operator_resends_an_unknown_reply_and_it_goes_out_once_more(
    rt: Runtime, clock: Clock, record: Path
) -> None:
    rt.channels["counting"] = CrashingChannel(record)
    [reply] = queue(rt, clock, 1)
    tick(rt)
    clock.advance(seconds=lease_for(rt).total_seconds() + 1)
    tick(rt)

    resolve_reply(rt, reply, "resend")
    tick(rt)

    assert statuses(rt) == ["sent"]
    assert unknown_replies(rt) == []
    assert sent_counts(record, "reply-") == {1: 2}  # the operator asked for the second


@pytest.mark.parametrize("outcome", ["sent", "failed"])
def test_an_operator_settles_an_unknown_reply_without_sending_it(
    rt: Runtime, clock: Clock, record: Path, outcome: str
) -> None:
    rt.channels["counting"] = CrashingChannel(record)
    [reply] = queue(rt, clock, 1)
    tick(rt)
    clock.advance(seconds=lease_for(rt).total_seconds() + 1)
    tick(rt)

    resolve_reply(rt, reply, outcome)
    tick(rt)

    assert statuses(rt) == [outcome]
    assert sent_counts(record, "reply-") == {1: 1}


def test_only_an_unknown_reply_can_be_resolved(rt: Runtime, clock: Clock, record: Path) -> None:
    rt.channels["counting"] = CountingChannel(record)
    [reply] = queue(rt, clock, 1)
    tick(rt)
    with pytest.raises(ValueError, match=f"reply {reply} is sent, not unknown"):
        resolve_reply(rt, reply, "resend")
    with pytest.raises(ValueError, match=f"no reply {reply + 1}"):
        resolve_reply(rt, reply + 1, "sent")
    assert statuses(rt) == ["sent"]


@pytest.fixture
def refused_record(rt: Runtime) -> Iterator[None]:
    """The database refuses to record the second reply as sent (its id is 2: a fresh table)."""
    with rt.db.engine.begin() as conn:
        if rt.db.postgres:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_record() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'could not write block'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_record BEFORE UPDATE ON messages FOR EACH ROW "
                    "WHEN (NEW.id = 2 AND NEW.status = 'sent') EXECUTE FUNCTION refuse_record()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_record BEFORE UPDATE ON messages "
                    "WHEN NEW.id = 2 AND NEW.status = 'sent' "
                    "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
                )
            )
    yield
    with rt.db.engine.begin() as conn:
        conn.execute(
            text("DROP TRIGGER refuse_record" + (" ON messages" if rt.db.postgres else ""))
        )
        if rt.db.postgres:
            conn.execute(text("DROP FUNCTION refuse_record()"))


@pytest.mark.usefixtures("refused_record")
def test_one_replys_failed_record_never_abandons_the_rest_of_its_batch(
    rt: Runtime, clock: Clock, record: Path
) -> None:
    rt.channels["counting"] = CountingChannel(record)
    assert queue(rt, clock, 3) == [1, 2, 3]

    tick(rt)

    assert statuses(rt) == ["sent", "sending", "sent"]
    assert sent_counts(record, "reply-") == {1: 1, 2: 1, 3: 1}
    clock.advance(seconds=lease_for(rt).total_seconds() + 1)
    tick(rt)
    assert statuses(rt) == ["sent", "unknown", "sent"]
    assert [row[0] for row in unknown_replies(rt)] == [2]
    assert sent_counts(record, "reply-") == {1: 1, 2: 1, 3: 1}


@at_hours
def test_a_reply_whose_lease_ran_low_before_its_send_is_queued_again_not_sent(
    rt: Runtime, clock: Clock, record: Path
) -> None:
    clock.now = clock.now.replace(minute=59)  # the sends cross into the next hour (or day)
    rt.channels["counting"] = SlowChannel(record, clock)
    queue(rt, clock, 3)

    tick(rt)  # two minutes of sends: the third would start past lease - guard

    assert statuses(rt) == ["sent", "sent", "queued"]
    assert sent_counts(record, "reply-") == {1: 1, 2: 1}
    with rt.db.session() as s:
        assert s.scalar(select(Message.attempts).where(Message.id == 3)) == 0
    tick(rt)
    assert statuses(rt) == ["sent", "sent", "sent"]
    assert sent_counts(record, "reply-") == {1: 1, 2: 1, 3: 1}


@pytest.fixture
def cli(rt: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    return CliRunner()


def test_npsbot_outbox_lists_unknown_replies_with_masked_addresses_and_resolves_them(
    cli: CliRunner, rt: Runtime, clock: Clock, record: Path
) -> None:
    rt.channels["counting"] = CrashingChannel(record)
    [reply] = queue(rt, clock, 1, to="+34600123456")
    tick(rt)
    clock.advance(seconds=lease_for(rt).total_seconds() + 1)
    tick(rt)

    listed = cli.invoke(main, ["outbox", "unknown"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout == f"{reply}\tcounting\t+34•••3456\treply\t{clock():%Y-%m-%d %H:%M}\n"
    assert listed.stderr == "1 unknown\n"

    done = cli.invoke(main, ["outbox", "resolve", str(reply), "--as", "failed"])
    assert done.exit_code == 0 and done.stdout == f"reply {reply}: failed\n"
    again = cli.invoke(main, ["outbox", "resolve", str(reply), "--as", "sent"])
    assert again.exit_code == 1
    assert again.stderr == f"Error: reply {reply} is failed, not unknown\n"
    wrong = cli.invoke(main, ["outbox", "resolve", str(reply), "--as", "maybe"])
    assert (
        wrong.exit_code == 2 and "'maybe' is not one of 'sent', 'resend', 'failed'" in wrong.stderr
    )
    assert cli.invoke(main, ["outbox", "unknown"]).stderr == "0 unknown\n"
