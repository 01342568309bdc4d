"""Answers for upstream's ``cli.sh supports FEATURE`` probe.

Every feature name upstream's suite (opentdf/tests ``xtest/tdfs.py``) has probed, with
whether this client implements it. ``cli.sh`` exits 0 for yes, 1 for no and 2 for a
name not in this table. The install step bakes the table into ``cli.sh`` so that a probe
costs no Python start-up.
"""

from __future__ import annotations

FEATURES: dict[str, bool] = {
    "assertions": True,  # sign assertions on encrypt (HS256 or RS256 keys)
    "assertion_verification": True,  # verify them on decrypt with given keys
    "attribute_traversal": False,
    "audit_logging": False,
    "autoconfigure": True,  # key splits from attribute grants and key mappings
    # every tamper case says "tamper detected" and names its check (tests/client/
    # test_tamper_wording.py runs upstream's cases): KAS "bad request" included
    "better-messages-2024": True,
    "bulk_rewrap": True,  # one Rewrap per KAS carrying every key access object
    "connectrpc": True,
    "dpop": True,
    "dpop_nonce_challenge": True,
    "ecwrap": True,
    "hexaflexible": True,  # XT_WITH_TARGET_MODE 4.2.2 (hex) or 4.3.0 (hexless)
    "hexless": True,
    "kasallowlist": True,
    "key_management": True,  # mapped keys (KAS URL + kid), several keys per KAS
    "mechanism-ec-curves-384-521": True,
    "mechanism-rsa-4096": True,
    "mechanism-mlkem": False,
    "mechanism-secpmlkem": False,
    "mechanism-xwing": False,
    "nano_attribute_bug": False,  # a defect marker: we write attributes into nano policies
    "nano_ecdsa": True,
    "nano_policymode_plaintext": True,
    "ns_grants": True,
    "obligations": False,
}


def supports(feature: str) -> int:
    """Exit status for ``supports FEATURE``: 0 yes, 1 no, 2 unknown."""
    if feature not in FEATURES:
        return 2
    return 0 if FEATURES[feature] else 1
