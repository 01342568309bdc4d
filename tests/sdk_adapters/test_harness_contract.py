"""The adapters driven the way the suite drives them: through ``xtdf.harness.sdks.SDK``.

The successful path is covered by ``test_requests.encrypted``, which encrypts through
``SDK.encrypt`` with the suite's own defaults and options; this covers the refusal path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sdk_adapters.conftest import Adapter
from tests.sdk_adapters.stub import StubServer
from xtdf.harness.sdks import SDK, SdkError


def as_sdk(adapter: Adapter) -> SDK:
    return SDK(name=adapter.name, version=adapter.version, path=adapter.cli)


def test_ecwrap_container_is_refused_with_the_reason(
    adapter: Adapter,
    stub: StubServer,
    plaintext: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for k, v in stub.env().items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SdkError, match="XT_WITH_ECWRAP is set") as caught:
        as_sdk(adapter).encrypt(plaintext, tmp_path / "ct.tdf", container="ztdf-ecwrap")
    assert caught.value.returncode == 3
    assert stub.requests == []
