"""The two OpenTDF containers: ZTDF (zip + JSON manifest) and NanoTDF (compact binary)."""
