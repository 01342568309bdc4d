"""ZTDF: a zip holding 0.payload (AES-256-GCM segments) and 0.manifest.json."""
