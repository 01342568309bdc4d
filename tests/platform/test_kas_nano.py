"""The KAS's NanoTDF unwrap on its own (``xtdf.platform.kas.nano``): which keys it tries
for a header's kid, what it releases, and each refusal's code, the words the caller sees
and the reason the audit log keeps. The keys are real and the ring is a small in-memory
:class:`~xtdf.platform.kas.keyring.KeyRing`; over HTTP: test_kas_rewrap.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xtdf.crypto.keys import public_pem
from xtdf.errors import KeyAccessError
from xtdf.formats import nano
from xtdf.platform.kas import nano as kas_nano
from xtdf.platform.kas.keyring import KasKey
from xtdf.platform.kas.request import KaoRequest
from xtdf.platform.kas.unwrap import KaoFailure

KAS = "http://localhost:8080/kas"
ATTR = "https://example.com/attr/a/value/b"


@dataclass
class Ring:
    """Keys by (instance, kid); the active EC key per curve; the legacy ones, in order."""

    keys: dict[tuple[str, str], KasKey] = field(default_factory=dict)
    active: dict[tuple[str, str], KasKey] = field(default_factory=dict)
    legacy: dict[str, list[KasKey]] = field(default_factory=dict)

    def private_key(self, instance: str, kid: str) -> KasKey | None:
        return self.keys.get((instance, kid))

    def active_key(self, instance: str, algorithm: str) -> KasKey:
        try:
            return self.active[(instance, algorithm)]
        except KeyError:
            raise KeyAccessError(f"no active {algorithm} key") from None

    def legacy_keys(self, instance: str) -> list[KasKey]:
        return list(self.legacy.get(instance, []))


def _ec(kid: str, curve: ec.EllipticCurve | None = None, legacy: bool = False) -> KasKey:
    curve = curve or ec.SECP256R1()
    private = ec.generate_private_key(curve)
    return KasKey(kid, f"ec:{curve.name}", public_pem(private.public_key()), private, legacy)


def _rsa(kid: str) -> KasKey:
    private = rsa.generate_private_key(65537, 2048)
    return KasKey(kid, "rsa:2048", public_pem(private.public_key()), private)


@pytest.fixture(scope="module")
def e1() -> KasKey:
    return _ec("e1")


def _file(key: KasKey, kid: str = "e1", **options) -> bytes:
    policy = {"uuid": "u-1", "body": {"dataAttributes": [{"attribute": ATTR}], "dissem": []}}
    options.setdefault("policy", policy)
    return nano.encrypt(
        b"x", kas_url=KAS, kas_public_key=key.private.public_key(), kid=kid, **options
    )


def _kao(data: bytes) -> KaoRequest:
    _, size = nano.parse_header(data)
    return KaoRequest(id="kao-0", key_type="nano", url=KAS, header=data[:size])


def _refused(ring: Ring, data: bytes, code: str, desc: str, reason: str) -> None:
    with pytest.raises(KaoFailure) as exc:
        kas_nano.unwrap(ring, "default", _kao(data))
    assert (exc.value.code, exc.value.desc, exc.value.reason) == (code, desc, reason)


@pytest.mark.parametrize("mode", ["plaintext", "encrypted"])
def test_the_named_key_releases_the_files_key_with_its_policy(e1, mode: str) -> None:
    data = _file(e1, policy_mode=mode)
    ring = Ring(keys={("default", "e1"): e1})
    got = kas_nano.unwrap(ring, "default", _kao(data))
    assert got.share == nano.derive_key_offline(nano.parse(data).header, e1.private)
    assert (got.kid, got.uuid, got.attributes) == ("e1", "u-1", [ATTR])
    assert nano.decrypt(data, got.share) == b"x"


def test_attributes_that_are_not_objects_or_are_empty_are_left_out(e1) -> None:
    policy = {
        "uuid": 7,
        "body": {"dataAttributes": [{"attribute": ATTR}, "junk", {"attribute": ""}, {}]},
    }
    got = kas_nano.unwrap(
        Ring(keys={("default", "e1"): e1}), "default", _kao(_file(e1, policy=policy))
    )
    assert got.attributes == [ATTR] and got.uuid == "7"
    bare = kas_nano.unwrap(
        Ring(keys={("default", "e1"): e1}), "default", _kao(_file(e1, policy={"body": None}))
    )
    assert bare.attributes == [] and bare.uuid == ""


def test_without_a_kid_the_active_key_then_the_legacy_ones(e1) -> None:
    old = _ec("old", legacy=True)
    wrong = _ec("wrong", legacy=True)
    p384 = _ec("p384", ec.SECP384R1(), legacy=True)
    ring = Ring(active={("default", "ec:secp256r1"): e1}, legacy={"default": [p384, wrong, old]})
    assert kas_nano.unwrap(ring, "default", _kao(_file(e1, kid=""))).kid == "e1"
    assert kas_nano.unwrap(ring, "default", _kao(_file(old, kid=""))).kid == "old"
    assert kas_nano._candidates(ring, "default", "", "secp256r1") == [e1, wrong, old]
    # a kid it does not know: the legacy keys only, never the active one
    assert kas_nano._candidates(ring, "default", "gone", "secp256r1") == [wrong, old]
    assert kas_nano.unwrap(ring, "default", _kao(_file(old, kid="gone"))).kid == "old"
    assert kas_nano._candidates(ring, "default", "", "secp384r1") == [p384]


def test_an_empty_kid_names_no_key(e1) -> None:
    """Even a ring that kept a key under "" is not asked for it: no kid means the active
    key and the legacy ones."""
    decoy = _ec("")
    ring = Ring(keys={("default", ""): decoy}, active={("default", "ec:secp256r1"): e1})
    assert kas_nano.unwrap(ring, "default", _kao(_file(e1, kid=""))).kid == "e1"


def test_which_keys_fit_which_key_access() -> None:
    rsa_key, ec_key, p384 = _rsa("r"), _ec("e"), _ec("p", ec.SECP384R1())
    assert rsa_key.fits("wrapped") and not rsa_key.fits("ec-wrapped")
    assert ec_key.fits("ec-wrapped") and ec_key.fits("ec-wrapped", "secp256r1")
    assert not ec_key.fits("wrapped") and not ec_key.fits("ec-wrapped", "secp384r1")
    assert p384.fits("ec-wrapped", "secp384r1")
    for other in ("", "remote", "EC-WRAPPED", None):
        assert not ec_key.fits(other) and not rsa_key.fits(other)  # type: ignore[arg-type]


def test_keys_are_per_instance(e1) -> None:
    ring = Ring(keys={("value1", "e1"): e1})
    _refused(
        ring,
        _file(e1),
        "invalid_argument",
        "key not found",
        "kid 'e1' is unknown at KAS 'default' and it has no secp256r1 key to try",
    )
    assert kas_nano.unwrap(ring, "value1", _kao(_file(e1))).kid == "e1"


def test_no_key_to_try(e1) -> None:
    _refused(
        Ring(),
        _file(e1, kid=""),
        "invalid_argument",
        "key not found",
        "no kid at KAS 'default' and it has no secp256r1 key to try",
    )


def test_a_named_key_of_the_wrong_kind_or_curve(e1) -> None:
    r1 = _rsa("r1")
    _refused(
        Ring(keys={("default", "r1"): r1}),
        _file(e1, kid="r1"),
        "invalid_argument",
        "key r1 cannot unwrap a NanoTDF on secp256r1",
        "kid 'r1' is a rsa:2048 key; the NanoTDF uses secp256r1",
    )
    p384 = _ec("e1", ec.SECP384R1())
    _refused(
        Ring(keys={("default", "e1"): p384}),
        _file(e1),
        "invalid_argument",
        "key e1 cannot unwrap a NanoTDF on secp256r1",
        "kid 'e1' is a ec:secp384r1 key; the NanoTDF uses secp256r1",
    )


def test_a_bad_header(e1) -> None:
    kao = KaoRequest(id="kao-0", key_type="nano", header=b"L1L\x00garbage")
    with pytest.raises(KaoFailure) as exc:
        kas_nano.unwrap(Ring(keys={("default", "e1"): e1}), "default", kao)
    assert (exc.value.code, exc.value.desc) == ("invalid_argument", "invalid nano header")
    assert exc.value.reason.startswith("header: ") and len(exc.value.reason) > len("header: ")


def test_a_remote_policy_is_not_served(e1) -> None:
    data = _file(e1, policy=None, policy_mode="remote", remote_policy_url="https://p.example/x")
    _refused(
        Ring(keys={("default", "e1"): e1}),
        data,
        "invalid_argument",
        "unsupported policy type",
        "NanoTDF policy mode REMOTE is not served",
    )


def _tampered(key: KasKey, kid: str, binding: str) -> bytes:
    data = bytearray(_file(key, kid=kid, binding=binding, policy_mode="plaintext"))
    data[bytes(data).index(b"example.com")] ^= 0x01  # one letter of the attribute
    return bytes(data)


@pytest.mark.parametrize("binding", ["gmac", "ecdsa"])
def test_a_tampered_policy_releases_nothing_and_names_each_key_tried(e1, binding: str) -> None:
    with pytest.raises(KaoFailure) as exc:
        kas_nano.unwrap(
            Ring(keys={("default", "e1"): e1}), "default", _kao(_tampered(e1, "e1", binding))
        )
    kind = binding.upper()
    assert (exc.value.code, exc.value.desc) == ("invalid_argument", "bad request")
    assert exc.value.reason.startswith(f"nano: e1: NanoTDF {kind} policy binding ")
    # without a kid: the active key and then each legacy key, every failure kept
    wrong = _ec("wrong", legacy=True)
    ring = Ring(active={("default", "ec:secp256r1"): e1}, legacy={"default": [wrong]})
    with pytest.raises(KaoFailure) as exc:
        kas_nano.unwrap(ring, "default", _kao(_tampered(e1, "", binding)))
    assert exc.value.desc == "bad request"
    tried = exc.value.reason.removeprefix("nano: ").split("; ")
    assert [t.split(":")[0] for t in tried] == ["e1", "wrong"], exc.value.reason


def test_a_kid_that_is_not_utf8_is_read_with_replacement(e1) -> None:
    ring = Ring(keys={("default", "\ufffd1"): e1})
    assert kas_nano.unwrap(ring, "default", _kao(_file(e1, kid=b"\xff1"))).kid == "e1"
