"""Make xtdf's own golden files (run once; the outputs and the key file are committed).

    python xtest/golden/make_golden.py

The keys are test keys made for this purpose only. The suite imports them into the
platform's KAS as legacy keys, so every SDK must decrypt these files years from now,
whatever the reference SDK writes by then.
"""

from __future__ import annotations

import json
from pathlib import Path

from xtdf.crypto import ec, rsa
from xtdf.crypto.keys import private_pem, public_pem
from xtdf.formats import nano, ztdf

HERE = Path(__file__).resolve().parent
KAS_URL = "http://localhost:8080/kas"
PLAINTEXT = b"xtdf golden plaintext\n" * 100


def main() -> None:
    rsa_key, ec_key = rsa.generate(2048), ec.generate("secp256r1")
    keys = [
        {
            "kid": "xtdf-golden-r1",
            "alg": "rsa:2048",
            "privateKey": private_pem(rsa_key),
            "cert": public_pem(rsa_key),
        },
        {
            "kid": "xtdf-golden-e1",
            "alg": "ec:secp256r1",
            "privateKey": private_pem(ec_key),
            "cert": public_pem(ec_key),
        },
    ]
    (HERE / "xtdf-golden-keys.json").write_text(json.dumps(keys, indent=2) + "\n")
    (HERE / "xtdf-golden.txt").write_bytes(PLAINTEXT)
    for mode in ("4.2.2", "4.3.0"):
        ztdf.encrypt(
            HERE / "xtdf-golden.txt",
            HERE / f"xtdf-{mode}-rsa.tdf",
            key_access=[ztdf.KeyAccessTarget(KAS_URL, rsa_key.public_key(), "xtdf-golden-r1")],
            mime_type="text/plain",
            target_mode=mode,
        )
    ztdf.encrypt(
        HERE / "xtdf-golden.txt",
        HERE / "xtdf-4.3.0-ec.tdf",
        key_access=[ztdf.KeyAccessTarget(KAS_URL, ec_key.public_key(), "xtdf-golden-e1")],
        mime_type="text/plain",
    )
    (HERE / "xtdf-gmac.ntdf").write_bytes(
        nano.encrypt(
            PLAINTEXT, kas_url=KAS_URL, kas_public_key=ec_key.public_key(), kid=b"xtdf-golden-e1"
        )
    )


if __name__ == "__main__":
    main()
