"""KAS allowlist: origin comparison, ``*``, ignore, lazy registry widening."""

from __future__ import annotations

import pytest

from xtdf.client.allowlist import KasAllowlist, KasNotAllowedError, origin
from xtdf.errors import UsageError


def test_origin_normalises_path_and_default_ports() -> None:
    assert origin("http://localhost:8080/kas") == "http://localhost:8080"
    assert origin("https://kas.example/") == "https://kas.example:443"
    assert origin("http://KAS.example") == "http://kas.example:80"
    with pytest.raises(UsageError):
        origin("localhost:8080")


def test_same_origin_with_other_path_is_allowed() -> None:
    allow = KasAllowlist(["http://localhost:8080/kas"])
    assert allow.allowed("http://localhost:8080")
    assert allow.allowed("http://localhost:8080/kas/v2")
    assert not allow.allowed("http://localhost:8181/kas")
    assert not allow.allowed("https://localhost:8080/kas")


def test_check_names_the_url_and_the_allowlist() -> None:
    with pytest.raises(KasNotAllowedError, match=r"http://evil:9/kas.*allowlist"):
        KasAllowlist(["http://localhost:8080"]).check("http://evil:9/kas")


def test_garbage_url_is_not_allowed() -> None:
    assert not KasAllowlist(["http://a"]).allowed("not a url")


def test_parse_star_and_lists() -> None:
    assert KasAllowlist.parse("*").allowed("http://anything:1")
    allow = KasAllowlist.parse("http://a:1/kas, http://b:2")
    assert allow.allowed("http://b:2/kas") and not allow.allowed("http://c:3")


def test_ignore_allows_everything() -> None:
    assert KasAllowlist(["http://a"], ignore=True).allowed("http://elsewhere:9")


def test_registry_consulted_once_and_only_when_needed() -> None:
    calls = []

    def registry() -> list[str]:
        calls.append(1)
        return ["http://localhost:8181/kas"]

    allow = KasAllowlist(["http://localhost:8080/kas"], more=registry)
    assert allow.allowed("http://localhost:8080/kas") and calls == []
    assert allow.allowed("http://localhost:8181/kas") and calls == [1]
    assert not allow.allowed("http://localhost:8282/kas") and calls == [1]


@pytest.mark.parametrize("url", ["http://[abc/kas", "http://[::1/kas", "https://[/"])
def test_unparsable_url_is_a_named_refusal_not_a_value_error(url: str) -> None:
    """A file names its KAS URLs; ``urlsplit`` raises a bare ValueError for an unclosed ``[``."""
    from xtdf.client.kas import connect_base
    from xtdf.client.transport import Transport
    from xtdf.errors import PlatformError

    with pytest.raises(UsageError, match="not an http"):
        origin(url)
    allow = KasAllowlist(["http://localhost:8080"])
    assert not allow.allowed(url)
    with pytest.raises(KasNotAllowedError, match=r"is not allowed.*not an http\(s\) KAS URL"):
        allow.check(url)
    with pytest.raises(PlatformError, match="not an http"):
        connect_base(url)
    with pytest.raises(PlatformError, match="not a valid URL"):
        Transport().request("GET", url)
