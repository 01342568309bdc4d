"""The cross-SDK suite: pytest plugin, SDK adapters and the shared ciphertext cache."""
