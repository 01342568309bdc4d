"""The NanoTDF rewrap exchange, with the KAS side computed from the protocol facts.

A KAS derives the payload key from its private key and the header's ephemeral key, then
wraps it for the client's EC session key (ECDH, HKDF with salt SHA-256("L1L"), AES-GCM
``nonce||ct||tag``). Doing that here with real keys checks that the client's request
carries the exact header and that its unwrapping opens what such a KAS sends.
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric import ec

from xtdf.client import kas
from xtdf.client.nano import KAO_ID, rewrap_request
from xtdf.crypto import ec as xec
from xtdf.crypto.encoding import b64decode, b64encode
from xtdf.crypto.keys import public_pem
from xtdf.crypto.symmetric import gcm_encrypt, random_bytes
from xtdf.formats import nano

KAS_URL = "http://kas.example:8080/kas"


def test_request_carries_the_whole_header_and_opens_the_payload() -> None:
    kas_key = ec.generate_private_key(ec.SECP256R1())
    data = nano.encrypt(
        b"nano plaintext",
        kas_url=KAS_URL,
        kas_public_key=kas_key.public_key(),
        kid="e1",
        policy=nano.policy_object(["https://e/attr/a/value/x"]),
        binding="ecdsa",
    )
    url, request = rewrap_request(data)
    assert url == KAS_URL
    session = ec.generate_private_key(ec.SECP256R1())
    body = json.loads(json.dumps(kas.unsigned_request(kas.public_pem(session), [request])))
    (entry,) = body["requests"]
    assert entry["algorithm"] == "ec:secp256r1"
    (kao,) = entry["keyAccessObjects"]
    assert kao["keyAccessObjectId"] == KAO_ID
    header_bytes = b64decode(kao["keyAccessObject"]["header"])
    _, size = nano.parse_header(data)
    assert header_bytes == data[:size] and kao["keyAccessObject"]["url"] == KAS_URL

    # the KAS: payload key from the header, wrapped for the client's session key
    payload_key = nano.derive_key_offline(nano.parse_header(header_bytes)[0], kas_key)
    kas_session = ec.generate_private_key(ec.SECP256R1())
    wrapping = xec.derive_key(kas_session, session.public_key(), xec.NANO_V1_SALT)
    iv = random_bytes(12)
    answer = {
        "sessionPublicKey": public_pem(kas_session),
        "responses": [
            {
                "policyId": "policy",
                "results": [
                    {
                        "keyAccessObjectId": KAO_ID,
                        "status": "permit",
                        "kasWrappedKey": b64encode(iv + gcm_encrypt(wrapping, iv, payload_key)),
                    }
                ],
            }
        ],
    }
    key = kas.unwrap_response(answer, session, xec.NANO_V1_SALT)[KAO_ID]
    assert isinstance(key, bytes)
    assert nano.decrypt(data, key) == b"nano plaintext"
