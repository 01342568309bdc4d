"""The reference client SDK: talks to a platform to encrypt and decrypt."""
