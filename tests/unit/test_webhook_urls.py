"""A subscription's URL: an http(s) endpoint anywhere but a cloud's instance metadata."""

from __future__ import annotations

import pytest

from bot.integrations.webhooks import Refused, check_url


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.com/npsbot",
        "http://127.0.0.1:9000/hook",  # the business's own host (and the tests' receiver)
        "https://10.0.0.5/npsbot",  # its private network
    ],
)
def test_an_endpoint_is_accepted(url: str) -> None:
    assert check_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/x", "link-local"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("ftp://example.com/x", "an http\\(s\\) URL"),
        ("https:///no-host", "an http\\(s\\) URL"),
        ("", "required"),
    ],
)
def test_a_url_the_worker_must_not_call_is_refused(url: str, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        check_url(url)
