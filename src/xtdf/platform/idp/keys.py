"""The IdP's token-signing key: made once, kept in the platform database.

Keeping it in ``platform.db`` (not in memory) is what lets an access token minted before a
restart still verify after it, as with a real Keycloak whose realm keys persist.
"""

from __future__ import annotations

import time

from joserfc.jwk import KeySet, RSAKey

from xtdf.platform.store import Database

DDL = """
CREATE TABLE IF NOT EXISTS idp_signing_keys (
    realm TEXT PRIMARY KEY,
    kid TEXT NOT NULL,
    alg TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    created REAL NOT NULL
);
"""

ALG = "RS256"


class SigningKeys:
    """The realm's RS256 key (private, for minting) and its public JWKS."""

    def __init__(self, db: Database, realm: str) -> None:
        db.migrate(DDL)
        self.realm = realm
        self.key = self._load_or_create(db)
        self.kid: str = self.key.kid or ""
        public = RSAKey.import_key(self.key.as_dict(private=False))
        self.public_set = KeySet([public])

    def _load_or_create(self, db: Database) -> RSAKey:
        row = db.one("SELECT kid, private_pem FROM idp_signing_keys WHERE realm = ?", (self.realm,))
        if row is None:
            fresh = RSAKey.generate_key(2048)
            kid = fresh.thumbprint()
            pem = fresh.as_pem(private=True).decode("ascii")
            with db.transaction() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO idp_signing_keys (realm, kid, alg, private_pem, created)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (self.realm, kid, ALG, pem, time.time()),
                )
            row = db.one(
                "SELECT kid, private_pem FROM idp_signing_keys WHERE realm = ?", (self.realm,)
            )
            assert row is not None
        return RSAKey.import_key(
            row["private_pem"], parameters={"kid": row["kid"], "alg": ALG, "use": "sig"}
        )

    def jwks(self) -> dict[str, object]:
        return {"keys": [self.key.as_dict(private=False)]}
