"""Options a client cannot honour fail at once and clearly; the ones it can are accepted.

An adapter that silently dropped, say, ``XT_WITH_ECWRAP`` would let the matrix record an
RSA-wrapped file as an ecwrap result. Each case here must exit 3 (the adapter's own failure
status) with one line on stderr naming the variable, before the client is even started:
the stub must see no request and no DST may appear.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sdk_adapters.conftest import ALL_ADAPTERS, Adapter, require_installed
from tests.sdk_adapters.stub import StubServer

ASSERTIONS = '[{"id":"a1","type":"handling","scope":"tdo","appliesToState":"encrypted"}]'

#: (verb, fmt, environment, text the one-line error must contain), for every adapter
COMMON = [
    ("encrypt", "ztdf", {"XT_WITH_ECWRAP": "true"}, "XT_WITH_ECWRAP"),
    ("decrypt", "ztdf", {"XT_WITH_ECWRAP": "true"}, "XT_WITH_ECWRAP"),
    ("encrypt", "ztdf", {"XT_WITH_ASSERTIONS": ASSERTIONS}, "XT_WITH_ASSERTIONS"),
    ("encrypt", "nano", {"XT_WITH_PLAINTEXT_POLICY": "true"}, "XT_WITH_PLAINTEXT_POLICY"),
    (
        "decrypt",
        "ztdf",
        {"XT_WITH_ASSERTION_VERIFICATION_KEYS": "/nonexistent/keys.json"},
        "XT_WITH_ASSERTION_VERIFICATION_KEYS",
    ),
    ("decrypt", "ztdf", {"XT_WITH_VERIFY_ASSERTIONS": "true"}, "XT_WITH_VERIFY_ASSERTIONS"),
    ("encrypt", "ztdf", {"XT_WITH_ECWRAP": "maybe"}, "expected true or false"),
]
OTDF_PYTHON_ONLY = [
    ("encrypt", "ztdf", {"XT_WITH_TARGET_MODE": "4.2.2"}, "XT_WITH_TARGET_MODE=4.2.2"),
    ("encrypt", "ztdf", {"XT_WITH_ECDSA_BINDING": "true"}, "nano only"),
]
JS_ONLY = [
    ("encrypt", "ztdf", {"XT_WITH_TARGET_MODE": "4.3.0"}, "XT_WITH_TARGET_MODE=4.3.0"),
    ("encrypt", "ztdf", {"XT_WITH_MIME_TYPE": "text/csv"}, "XT_WITH_MIME_TYPE=text/csv"),
    ("encrypt", "nano", {"XT_WITH_ECDSA_BINDING": "true"}, "XT_WITH_ECDSA_BINDING"),
    ("decrypt", "ztdf", {"XT_WITH_KAS_ALLOWLIST": "http://x/kas"}, "XT_WITH_KAS_ALLOWLIST"),
    ("decrypt", "ztdf", {"XT_WITH_KAS_ALLOW_LIST": "http://x/kas"}, "XT_WITH_KAS_ALLOWLIST"),
    ("decrypt", "nano", {"XT_WITH_IGNORE_KAS_ALLOWLIST": "true"}, "XT_WITH_IGNORE_KAS_ALLOWLIST"),
]


def _cases() -> list:
    out = []
    for adapter in ALL_ADAPTERS:
        specific = JS_ONLY if adapter.is_js else OTDF_PYTHON_ONLY
        for verb, fmt, env, message in COMMON + specific:
            case_id = f"{adapter}-{verb}-{fmt}-{'+'.join(f'{k}={v[:12]}' for k, v in env.items())}"
            out.append(pytest.param(adapter, verb, fmt, env, message, id=case_id))
    return out


@pytest.mark.parametrize(("adapter", "verb", "fmt", "env", "message"), _cases())
def test_option_it_cannot_honour_fails_clearly(
    adapter: Adapter,
    verb: str,
    fmt: str,
    env: dict[str, str],
    message: str,
    stub: StubServer,
    plaintext: Path,
    tmp_path: Path,
) -> None:
    require_installed(adapter)
    dst = tmp_path / "out"
    result = adapter.run(verb, plaintext, dst, fmt, env={**stub.env(), **env})
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert str(adapter) in lines[0]
    assert stub.requests == [], "the client must not have been started"
    assert not dst.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["encrypt", "a", "b"],
        ["encrypt", "a", "b", "zip"],
        ["rewrap", "a", "b", "ztdf"],
    ],
    ids=["missing-format", "unknown-format", "unknown-command"],
)
@pytest.mark.parametrize("adapter", ALL_ADAPTERS, ids=str)
def test_bad_usage_fails_clearly(adapter: Adapter, args: list[str]) -> None:
    require_installed(adapter)
    result = adapter.run(*args)
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cli.sh" in result.stderr
