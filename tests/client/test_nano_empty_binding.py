"""A NanoTDF whose ECDSA policy binding has zero-length ``r`` and ``s`` (older JS writers).

``xtdf inspect`` must describe it and flag the empty binding; ``decrypt`` must refuse it
on one line naming the empty binding, without asking a KAS and leaving no output; and the
KAS, asked directly, must not release its key either. The file is built here: a real
ECDSA-bound NanoTDF for the platform's own EC key, with its binding emptied.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import lane_missing
from tests.platform.conftest import LocalPlatform
from xtdf.client import install_cli
from xtdf.client import nano as nano_client
from xtdf.client.config import ClientConfig
from xtdf.client.kas import EC_P256, RewrapTamperError
from xtdf.client.platform_client import PlatformClient
from xtdf.crypto import ec as xec
from xtdf.errors import PolicyBindingError
from xtdf.formats import nano
from xtdf.formats.nano.header import EMPTY_ECDSA_BINDING
from xtdf.platform import kas as platform_kas

XTDF = Path(sys.executable).with_name("xtdf")
PLAINTEXT = b"an older JS writer's NanoTDF\n"


def empty_binding_file(kas_url: str, kid: str, public: ec.EllipticCurvePublicKey) -> bytes:
    """A sound ECDSA-bound NanoTDF with ``r`` and ``s`` replaced by nothing."""
    good = nano.parse(
        nano.encrypt(PLAINTEXT, kas_url=kas_url, kas_public_key=public, kid=kid, binding="ecdsa")
    )
    header = dataclasses.replace(good.header, binding=EMPTY_ECDSA_BINDING)
    return nano.NanoTDF(header, good.payload, good.signature).encode()


@pytest.fixture(scope="module")
def client(full_platform: LocalPlatform):
    config = ClientConfig(
        platform_url=full_platform.url,
        kas_url=full_platform.kas_urls["default"],
        client_id="opentdf",
        client_secret="secret",
    )
    with PlatformClient(config) as c:
        yield c


@pytest.fixture
def ntdf(client: PlatformClient, tmp_path: Path) -> Path:
    key = client.kas_public_key(client.config.kas_url, EC_P256)
    public = key.load()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    path = tmp_path / "empty-binding.ntdf"
    path.write_bytes(empty_binding_file(key.url, key.kid, public))
    return path


def test_the_file_has_an_empty_ecdsa_binding(ntdf: Path) -> None:
    data = ntdf.read_bytes()
    header, _ = nano.parse_header(data)
    assert header.ecdsa_binding and header.binding == b"\x00\x00"
    assert nano.parse(data).encode() == data  # parses and re-encodes exactly


def test_inspect_describes_it_and_flags_the_empty_binding(ntdf: Path) -> None:
    if not XTDF.exists():
        lane_missing(f"{XTDF} is not installed")
    proc = subprocess.run([str(XTDF), "inspect", str(ntdf)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["format"] == "nano" and info["payload"]["length"] > 0
    assert info["binding"] == {
        "mode": "ecdsa",
        "valueHex": "0000",
        "rHex": "",
        "sHex": "",
        "empty": True,
    }
    (warning,) = info["warnings"]
    assert "ECDSA policy binding is empty (r and s are 0 bytes)" in warning


def test_inspect_of_a_sound_ecdsa_file_has_no_warning(tmp_path: Path) -> None:
    from xtdf.formats.nano.inspect import describe_bytes

    kas = xec.generate("secp256r1")
    blob = nano.encrypt(
        b"x", kas_url="http://k/kas", kas_public_key=kas.public_key(), binding="ecdsa"
    )
    info = describe_bytes(blob)
    assert info["binding"]["empty"] is False and len(info["binding"]["rHex"]) == 64
    assert "warnings" not in info


def test_decrypt_refuses_it_on_one_line_without_output(
    ntdf: Path, tmp_path: Path, full_platform: LocalPlatform
) -> None:
    cli = install_cli.install(tmp_path / "sdk" / "py" / "dist" / "main")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XT_WITH_")}
    env |= {"PLATFORMURL": full_platform.url, "KASURL": full_platform.kas_urls["default"]}
    rt = tmp_path / "rt.txt"
    before = _rewraps_seen(full_platform)
    proc = subprocess.run(
        [str(cli), "decrypt", str(ntdf), str(rt), "nano"], env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0
    # the KAS audits every rewrap it is sent, refused ones included: none arrived
    assert _rewraps_seen(full_platform) == before
    assert not rt.exists() and not list(tmp_path.glob(".rt.txt*"))
    (line,) = proc.stderr.strip().splitlines()
    assert line == (
        "xtdf: tamper detected: NanoTDF ECDSA policy binding is empty (r and s are 0 bytes): "
        "the policy is not bound to the key, so the file is refused (older JS writers made "
        "such files) (IntegrityError: PolicyBindingError)"
    )


def test_the_client_builds_no_rewrap_for_it(ntdf: Path) -> None:
    with pytest.raises(PolicyBindingError, match="binding is empty"):
        nano_client.rewrap_request(ntdf.read_bytes())


def test_the_kas_asked_directly_releases_nothing(
    ntdf: Path, client: PlatformClient, full_platform: LocalPlatform
) -> None:
    """Past our client's refusal: the platform's KAS must refuse the header itself (and
    audit it, which is what lets the decrypt test above prove that no request was sent)."""
    from xtdf.client.kas import PolicyRequest

    data = ntdf.read_bytes()
    _, size = nano.parse_header(data)
    kao = {"url": client.config.kas_url, "protocol": "kas", "header": _b64(data[:size])}
    request = PolicyRequest("policy", "", [("kao-0", kao)], algorithm=EC_P256)
    results = client.rewrap(
        client.config.kas_url, [request], xec.generate("secp256r1"), xec.NANO_V1_SALT
    )
    assert isinstance(results["kao-0"], RewrapTamperError), results
    last = platform_kas.service_for(full_platform.platform).audit.records()[-1]
    assert (last["decision"], last["keyAccessObjectId"]) == ("deny", "kao-0"), last


def _rewraps_seen(lp: LocalPlatform) -> tuple[int, dict | None]:
    """How many audit records, and the newest (the in-memory window is bounded)."""
    records = platform_kas.service_for(lp.platform).audit.records()
    return len(records), (records[-1] if records else None)


def _b64(data: bytes) -> str:
    from xtdf.crypto.encoding import b64encode

    return b64encode(data)
