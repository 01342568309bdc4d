"""NanoTDF key access: the header carries the KAS key id, the client's ephemeral key and
the (possibly encrypted) policy with its binding.

The KAS derives the payload key from the header (ECDH with its EC key + HKDF with the
"L1L" salt), checks the policy binding with that key (for an encrypted policy its GCM tag
is what ties it to the key) and reads the policy for the authorization decision. Only the
embedded policy modes are served, as the Go KAS did: a remote policy or one under a
separate policy key access gives a per-KAO error.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from xtdf.errors import KeyAccessError, XtdfError
from xtdf.formats import nano as nanofmt
from xtdf.formats.nano import PolicyMode
from xtdf.platform.kas.keyring import KasKey, KeyRing
from xtdf.platform.kas.request import KaoRequest
from xtdf.platform.kas.unwrap import BAD_REQUEST, KaoFailure

_SERVED_POLICIES = (PolicyMode.EMBEDDED_PLAINTEXT, PolicyMode.EMBEDDED_ENCRYPTED)


@dataclass(frozen=True)
class NanoUnwrapped:
    share: bytes
    kid: str
    uuid: str
    attributes: list[str]


def _candidates(ring: KeyRing, instance: str, kid: str, curve: str) -> list[KasKey]:
    named = ring.private_key(instance, kid) if kid else None
    if named is not None:
        if not named.fits("ec-wrapped", curve):
            raise KaoFailure(
                "invalid_argument",
                f"key {kid} cannot unwrap a NanoTDF on {curve}",
                f"kid {kid!r} is a {named.alg} key; the NanoTDF uses {curve}",
            )
        return [named]
    out: list[KasKey] = []
    if not kid:  # no kid: the KAS's current EC key for the curve, then legacy keys
        with contextlib.suppress(KeyAccessError):
            out.append(ring.active_key(instance, f"ec:{curve}"))
    out += [k for k in ring.legacy_keys(instance) if k.fits("ec-wrapped", curve)]
    if not out:
        what = f"kid {kid!r} is unknown" if kid else "no kid"
        raise KaoFailure(
            "invalid_argument",
            "key not found",
            f"{what} at KAS {instance!r} and it has no {curve} key to try",
        )
    return out


def unwrap(ring: KeyRing, instance: str, kao: KaoRequest) -> NanoUnwrapped:
    try:
        header, _ = nanofmt.parse_header(kao.header)
        curve = header.curve.curve_name
    except XtdfError as exc:
        raise KaoFailure("invalid_argument", "invalid nano header", f"header: {exc}") from None
    if header.policy.mode not in _SERVED_POLICIES:
        raise KaoFailure(
            "invalid_argument",
            "unsupported policy type",
            f"NanoTDF policy mode {header.policy.mode.name} is not served",
        )
    kid = header.kas.kid.decode("utf-8", "replace")
    failures = []
    for key in _candidates(ring, instance, kid, curve):
        try:
            share = nanofmt.derive_key_offline(header, key.private)  # type: ignore[arg-type]
            nanofmt.verify_policy_binding(header, share)
            policy = nanofmt.read_policy(header, share)
        except XtdfError as exc:  # binding mismatch or wrong key: try the next key
            failures.append(f"{key.kid}: {exc}")
            continue
        body = policy.get("body") or {}
        attrs = [
            a.get("attribute", "")
            for a in (body.get("dataAttributes") or [])
            if isinstance(a, dict)
        ]
        return NanoUnwrapped(share, key.kid, str(policy.get("uuid", "")), [a for a in attrs if a])
    raise KaoFailure("invalid_argument", BAD_REQUEST, "nano: " + "; ".join(failures))
