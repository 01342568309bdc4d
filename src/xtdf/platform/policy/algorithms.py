"""Names of KAS key algorithms in their three spellings.

Upstream's key files (``extra-keys.json``) and the KAS use ``rsa:2048``/``ec:secp256r1``;
key management uses the ``policy.Algorithm`` enum and the legacy registry
``policy.KasPublicKeyAlgEnum``. Every conversion goes through this table.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xtdf._proto.policy import objects_pb2 as po
from xtdf.crypto.keys import PrivateKey, PublicKey
from xtdf.platform.rpc import RpcError

#: name -> (policy.Algorithm, policy.KasPublicKeyAlgEnum)
ALGORITHMS: dict[str, tuple[int, int]] = {
    "rsa:2048": (po.ALGORITHM_RSA_2048, po.KAS_PUBLIC_KEY_ALG_ENUM_RSA_2048),
    "rsa:4096": (po.ALGORITHM_RSA_4096, po.KAS_PUBLIC_KEY_ALG_ENUM_RSA_4096),
    "ec:secp256r1": (po.ALGORITHM_EC_P256, po.KAS_PUBLIC_KEY_ALG_ENUM_EC_SECP256R1),
    "ec:secp384r1": (po.ALGORITHM_EC_P384, po.KAS_PUBLIC_KEY_ALG_ENUM_EC_SECP384R1),
    "ec:secp521r1": (po.ALGORITHM_EC_P521, po.KAS_PUBLIC_KEY_ALG_ENUM_EC_SECP521R1),
}
_BY_ENUM = {enum: name for name, (enum, _) in ALGORITHMS.items()}


def normalize(name: str) -> str:
    """Accept ``rsa:2048``, ``RSA_2048``, ``ec:p256``, ``ALGORITHM_EC_P256`` and friends."""
    text = name.strip().lower().removeprefix("algorithm_")
    aliases = {
        "rsa_2048": "rsa:2048",
        "rsa_4096": "rsa:4096",
        "ec_p256": "ec:secp256r1",
        "ec_p384": "ec:secp384r1",
        "ec_p521": "ec:secp521r1",
        "ec:p256": "ec:secp256r1",
        "ec:p384": "ec:secp384r1",
        "ec:p521": "ec:secp521r1",
    }
    text = aliases.get(text, text)
    if text not in ALGORITHMS:
        raise RpcError("invalid_argument", f"key_algorithm: unsupported algorithm {name!r}")
    return text


def from_enum(value: int) -> str:
    try:
        return _BY_ENUM[value]
    except KeyError:
        raise RpcError("invalid_argument", f"key_algorithm: unsupported value {value}") from None


def to_enum(name: str) -> int:
    return ALGORITHMS[normalize(name)][0]


def to_legacy_enum(name: str) -> int:
    return ALGORITHMS[normalize(name)][1]


def of_key(key: PublicKey | PrivateKey) -> str:
    """The algorithm name a key actually has (to check a declared one against)."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"rsa:{key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"ec:{key.curve.name}"
    raise RpcError("invalid_argument", f"unsupported key type {type(key).__name__}")
