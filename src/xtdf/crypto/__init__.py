"""Cryptographic primitives, each a thin layer over ``cryptography``.

Nothing in here knows about TDF manifests or NanoTDF headers: the format code above
composes these primitives into OpenTDF's recipes (as ``cryptography`` keeps its
hazmat primitives apart from its recipes).
"""
