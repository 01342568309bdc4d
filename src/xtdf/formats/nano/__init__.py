"""NanoTDF v1 (L1L): a compact binary header, an ECDH-derived key, one GCM payload."""
