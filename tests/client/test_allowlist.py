"""KAS allowlist: the Go SDK's address comparison, ``*``, ignore, lazy registry widening."""

from __future__ import annotations

import pytest

from xtdf.client.allowlist import KasAllowlist, KasNotAllowedError, kas_address
from xtdf.errors import UsageError


@pytest.mark.parametrize(
    ("url", "address"),
    [  # the Go SDK's own table (sdk/tdf_config_test.go, TestAllowList_Add)
        ("https://example.com:443", "https://example.com:443"),
        ("https://example.com/something", "https://example.com:443"),
        ("http://example.com:8080/hello", "http://example.com:8080"),
        ("http://example.com", "http://example.com"),
        ("example.com:8080", "https://example.com:8080"),
        ("example.com", "https://example.com:443"),
        # and what follows from getKasAddress's steps
        ("http://localhost:8585/malicious/kas", "http://localhost:8585"),
        ("HTTP://Kas.Example:80/kas?x=1#f", "http://Kas.Example:80"),
        ("http://[::1]:8080/kas", "http://[::1]:8080"),
        ("https://[::1]/kas", "https://[::1]:443"),
        ("http://alice@h:1/kas", "http://alice@h:1"),
    ],
)
def test_kas_address_is_the_go_sdks(url: str, address: str) -> None:
    assert kas_address(url) == address


@pytest.mark.parametrize("url", ["http://:8080", "", "http://h:80x/kas", "1http://h/kas"])
def test_kas_address_refuses_what_go_cannot_add(url: str) -> None:
    with pytest.raises(UsageError, match="cannot parse KAS URL"):
        kas_address(url)
    with pytest.raises(UsageError, match="cannot parse KAS URL"):
        KasAllowlist([url or "http://"])


def test_go_sdk_is_allowed_table() -> None:
    """TestAllowList_IsAllowed: scheme and port both count; http has no default port."""
    allow = KasAllowlist(
        ["https://example.com:443", "https://another.com", "http://one-more.com", "w:8080"]
    )
    assert allow.allowed("https://example.com:443")
    assert allow.allowed("https://another.com")
    assert allow.allowed("https://w:8080")
    assert allow.allowed("http://one-more.com")
    assert not allow.allowed("http://another.com")
    assert not allow.allowed("https://another.com:9090")
    assert not allow.allowed("https://notallowed.com")
    assert not allow.allowed("invalid-url")
    assert not allow.allowed("http://one-more.com:80")


def test_a_registered_address_allows_any_path_on_it() -> None:
    """Why upstream's malicious-KAO test needs nothing registered at its port: the Go SDK
    (and we) trust http://localhost:8585 for every path once it is in the registry."""
    allow = KasAllowlist(["http://localhost:8080/kas"], more=lambda: ["http://localhost:8585"])
    assert allow.allowed("http://localhost:8585/malicious/kas")
    assert not KasAllowlist(["http://localhost:8080/kas"]).allowed(
        "http://localhost:8585/malicious/kas"
    )


def test_host_compares_exactly_scheme_does_not() -> None:
    allow = KasAllowlist(["http://localhost:8080"])
    assert allow.allowed("HTTP://localhost:8080/kas")
    assert not allow.allowed("http://LOCALHOST:8080/kas")


def test_unparsable_registry_entry_trusts_nothing_and_breaks_nothing() -> None:
    allow = KasAllowlist(["http://a:1"], more=lambda: ["http://[bad", "http://b:2/kas"])
    assert allow.allowed("http://b:2/x") and not allow.allowed("http://[bad")


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

    with pytest.raises(UsageError, match="cannot parse KAS URL"):
        kas_address(url)
    allow = KasAllowlist(["http://localhost:8080"])
    assert not allow.allowed(url)
    with pytest.raises(KasNotAllowedError, match=r"is not allowed: cannot parse KAS URL"):
        allow.check(url)
    with pytest.raises(PlatformError, match="not an http"):
        connect_base(url)
    with pytest.raises(PlatformError, match="not a valid URL"):
        Transport().request("GET", url)
