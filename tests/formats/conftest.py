"""Keys shared by the ZTDF tests (generating RSA keys is the slow part, so once per session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xtdf.crypto import ec as xec
from xtdf.crypto import rsa as xrsa
from xtdf.crypto.keys import load_private_pem


@pytest.fixture(scope="session")
def ztdf_rsa_key() -> rsa.RSAPrivateKey:
    return xrsa.generate(2048)


@pytest.fixture(scope="session")
def ztdf_other_rsa_key() -> rsa.RSAPrivateKey:
    return xrsa.generate(2048)


@pytest.fixture(scope="session")
def ztdf_ec_keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {name: xec.generate(name) for name in ("secp256r1", "secp384r1", "secp521r1")}


@pytest.fixture(scope="session")
def golden_key(reference_dir: Path) -> rsa.RSAPrivateKey:
    """The ``golden-r1`` private key that wraps every golden ZTDF."""
    keys = json.loads((reference_dir / "extra-keys.json").read_text())
    entry = next(k for k in keys if k["kid"] == "golden-r1")
    key = load_private_pem(entry["privateKey"])
    assert isinstance(key, rsa.RSAPrivateKey)
    return key
