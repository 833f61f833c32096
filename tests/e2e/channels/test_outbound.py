"""Every channel's outbound rows, through the real provider client against a loopback fake."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import channels.errors as errors
from bot.config import settings_from
from channels import registry
from channels.base import Outbound
from tests.e2e.channels.cases import OutboundCase
from tests.fakes.base import SPECS, Answer


def _row_modules() -> Iterator[ModuleType]:
    import tests.e2e.channels as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("rows_"):
            yield importlib.import_module(f"tests.e2e.channels.{info.name}")


ROWS = [
    pytest.param(module, case, id=case.label)
    for module in _row_modules()
    for case in getattr(module, "OUTBOUND", [])
]


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


@pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}")
@pytest.mark.parametrize(("module", "case"), ROWS)
def test_outbound(module: ModuleType, case: OutboundCase) -> None:
    with module.FAKE() as fake:
        fake.queue(*(Answer(a.status, a.body, a.delay) for a in case.answers))
        settings = settings_from(module.settings(fake.url))
        loaded = registry.load(settings)
        channel = loaded[case.channel]
        msg = Outbound(channel=case.channel, **case.message)
        try:
            if case.expect == "sent":
                sent = channel.send(msg)
                if case.expect_provider_id is not None:
                    assert sent.provider_id == case.expect_provider_id
            else:
                with pytest.raises(getattr(errors, case.expect)) as info:
                    channel.send(msg)
                if case.expect_retryable is not None:
                    assert info.value.retryable is case.expect_retryable
        finally:
            for each in loaded.values():
                getattr(each, "close", lambda: None)()
            if case.expect_retry_after is not None:
                assert getattr(info.value, "retry_after", None) == case.expect_retry_after
        assert fake.spec_problems == []
        assert len(fake.requests) >= len(case.expect_requests)
        for want, got in zip(case.expect_requests, fake.requests, strict=False):
            assert got.method == want.get("method", got.method)
            assert got.path == want.get("path", got.path)
            assert _subset(dict(want.get("fields", {})), got.form), (want, got.form)
