"""One exception hierarchy for the whole project.

Every failure a user can cause (a malformed file, a tampered file, a bad option, a
refusal from a KAS) raises a subclass of :class:`XtdfError` whose message names what
failed. The CLI prints ``str(err)`` on one line and exits non-zero; nothing else is
allowed to escape as a traceback.
"""

from __future__ import annotations


class XtdfError(Exception):
    """Base of every error xtdf raises on purpose."""

    #: process exit status the CLI uses for this kind of error
    exit_code: int = 1


class UsageError(XtdfError):
    """A wrong option or argument."""

    exit_code = 2


class PayloadTooLargeError(UsageError):
    """The plaintext does not fit the container (a NanoTDF payload is at most 2^24-1 bytes)."""


# --- container / format errors -------------------------------------------------


class FormatError(XtdfError):
    """The input is not a well-formed TDF of the expected kind."""


class NotAZipError(FormatError):
    """A ZTDF must be a zip archive."""


class MissingEntryError(FormatError):
    """A required zip entry (``0.manifest.json``, ``0.payload``) is absent."""


class ManifestError(FormatError):
    """The manifest is not valid JSON or lacks a required field."""


class UnknownKeyAccessTypeError(FormatError):
    """A key access object has a ``type`` this implementation does not know."""


class UnsupportedError(FormatError):
    """A well-formed input uses a feature or algorithm that is not supported."""


class UnsupportedCurveError(UnsupportedError):
    """An EC curve other than P-256, P-384 or P-521."""


class NanoFormatError(FormatError):
    """A NanoTDF is malformed."""


class TruncatedError(NanoFormatError):
    """The input ended before a field that the format requires."""


# --- integrity errors: the file was altered ----------------------------------


class IntegrityError(XtdfError):
    """Cryptographic verification failed: the file was tampered with or is corrupt."""


class PolicyBindingError(IntegrityError):
    """The policy does not match its binding (HMAC, GMAC or ECDSA)."""


class SegmentIntegrityError(IntegrityError):
    """A payload segment failed its hash or its AES-GCM tag."""

    def __init__(self, index: int, detail: str = "") -> None:
        self.index = index
        msg = f"segment {index} integrity check failed"
        super().__init__(f"{msg}: {detail}" if detail else msg)


class RootSignatureError(IntegrityError):
    """The root signature over all segment hashes does not verify."""


class AssertionSignatureError(IntegrityError):
    """An assertion's binding signature or hash does not verify."""


class NanoSignatureError(IntegrityError):
    """A NanoTDF creator signature (the optional trailing section) does not verify."""


class PayloadDecryptError(IntegrityError):
    """Authenticated decryption failed (wrong key or altered ciphertext)."""


class KeyUnwrapError(IntegrityError):
    """A wrapped key could not be unwrapped with the key offered."""


# --- key access / platform errors --------------------------------------------


class KeyAccessError(XtdfError):
    """No key access object yielded a usable key."""


class AuthError(XtdfError):
    """Authentication failed: missing, expired or forged credentials."""


class AccessDeniedError(XtdfError):
    """The entity is not entitled to the data."""


class PlatformError(XtdfError):
    """The platform could not be reached or answered with an error."""
