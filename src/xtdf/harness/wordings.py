"""How each SDK in the matrix words each kind of refusal, as observed in the matrix.

A refusal cell passes only when the decryptor refused for the reason the cell provoked, so
the harness must read the reason out of each SDK's own output. Every pattern here was seen
in a real run (``cd xtest && pytest test_tdfs.py test_abac.py test_policytypes.py``, the
SDKs' ``cli.sh`` against the local platform) and keeps one observed line as its example;
``tests/harness/test_refusals.py`` checks each example against its pattern. An SDK that
words a refusal in a way recorded nowhere here fails the cell with its output, which is the
prompt to record it (after checking it really is that refusal).

Kept beside :mod:`xtdf.harness.limits`: both are facts about third-party SDKs, observed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class Refusal(StrEnum):
    """Why a decrypt was refused: what a refusal cell provokes and expects."""

    #: the payload, a segment, the manifest's integrity data or the policy was altered
    #: (a KAS's 'bad request' for an altered policy or binding counts, as upstream's
    #: assert_tamper_error accepts it)
    TAMPER = "tamper"
    #: an assertion's binding does not verify (wrong key, altered statement, no binding)
    ASSERTION = "assertion"
    #: the KAS refused to release a key to this client (ABAC)
    NOT_ENTITLED = "not entitled"
    #: the client itself would not ask a KAS outside its allowlist
    KAS_NOT_ALLOWED = "KAS not allowed"
    #: the KAS has no key with the kid the file names
    KEY_NOT_FOUND = "key not found"


class Failure(StrEnum):
    """A non-zero exit that is not a refusal: the cell fails whatever it expected."""

    CRASH = "crash"
    USAGE = "usage error"
    CONNECTION = "connection failure"


@dataclass(frozen=True)
class Pattern:
    regex: str
    #: one line the SDK printed, from the run named in the module docstring
    example: str

    def search(self, text: str) -> bool:
        return re.search(self.regex, text, re.IGNORECASE | re.MULTILINE) is not None


@dataclass(frozen=True)
class Wording:
    """One SDK's refusals and the signs of its crashes."""

    refusals: dict[Refusal, tuple[Pattern, ...]]
    #: an unhandled error in this SDK's runtime (checked before any refusal)
    crash: tuple[Pattern, ...] = ()
    #: what else a reader should know about this SDK's output
    note: str = ""
    #: refusals this SDK was never seen making, and why (so nobody records a guess)
    unobserved: dict[Refusal, str] = field(default_factory=dict)


def p(regex: str, example: str) -> Pattern:
    return Pattern(regex, example)


#: failures any SDK can have; each is checked before the refusal classes
FAILURES: dict[Failure, tuple[Pattern, ...]] = {
    Failure.USAGE: (
        p(r"^\s*usage: ", "usage: xtdf decrypt [-h] [-o OUTPUT] src"),
        p(r"unrecognized arguments", "xtdf: error: unrecognized arguments: --nope"),
        p(r"invalid choice", "argument --format: invalid choice: 'zip'"),
        p(r"the following arguments are required", "the following arguments are required: src"),
        p(r"unknown (shorthand )?flag", "Error: unknown flag: --nope"),
        p(r"flag needs an argument", "Error: flag needs an argument: --tdf-type"),
        p(r"unknown arguments?: ", "Unknown argument: nope"),
        p(r"not enough non-option arguments", "Not enough non-option arguments: got 0"),
        p(r"missing required (argument|option)", "Missing required argument: output"),
    ),
    Failure.CONNECTION: (
        p(r"connection refused", "dial tcp 127.0.0.1:8080: connect: connection refused"),
        p(r"ECONNREFUSED", "Error: connect ECONNREFUSED 127.0.0.1:8080"),
        p(r"ECONNRESET|connection reset by peer", "read: connection reset by peer"),
        p(r"cannot reach ", "xtdf: cannot reach http://localhost:8080: Connection refused"),
        p(r"no such host", "dial tcp: lookup kas.invalid: no such host"),
        p(r"ENOTFOUND|EAI_AGAIN", "getaddrinfo ENOTFOUND kas.invalid"),
        p(r"name or service not known", "[Errno -2] Name or service not known"),
        p(r"temporary failure in name resolution", "Temporary failure in name resolution"),
        p(r"failed to establish a new connection", "Failed to establish a new connection"),
        p(r"code = Unavailable", "rpc error: code = Unavailable desc = connection error"),
    ),
}

#: a KAS's answer to an altered policy or policy binding, relayed by the SDKs that relay it
KAS_BAD_REQUEST = p(
    r"code = InvalidArgument desc = bad request",
    "rpc error: code = InvalidArgument desc = bad request",
)
KAS_FORBIDDEN = p(
    r"code = PermissionDenied desc = forbidden",
    "rpc error: code = PermissionDenied desc = forbidden",
)
#: a kid the KAS does not hold (otdf-python's NanoTDF kid 'e1'; limits.py)
KAS_KEY_NOT_FOUND = p(
    r"desc = key not found",
    "rpc error: code = InvalidArgument desc = key not found",
)
#: the Go SDK's own allowlist refusal, the same in otdfctl's and xtdf-go-cli's output
GO_SDK_KAS_NOT_ALLOWED = p(
    r"KasAllowlist: kas url \S+ is not allowed",
    "kao unwrap failed for split {http://localhost:8080/kas }: KasAllowlist: "
    "kas url http://localhost:8080/kas is not allowed",
)
#: a Go runtime panic, never a refusal
GO_CRASH = (
    p(r"^panic: ", "panic: runtime error: invalid memory address"),
    p(r"^goroutine \d+ \[", "goroutine 1 [running]:"),
)
PYTHON_TRACEBACK = p(r"^Traceback \(most recent call last\):", "Traceback (most recent call last):")
#: exceptions that are programming errors in a Python SDK, never a refusal
PYTHON_BUG = p(
    r"^(TypeError|AttributeError|KeyError|NameError|IndexError|ImportError|"
    r"ModuleNotFoundError|UnboundLocalError|RecursionError|AssertionError|"
    r"NotImplementedError|UnicodeDecodeError)\b",
    "TypeError: ManifestPayload.__init__() got an unexpected keyword argument",
)

WORDINGS: dict[str, Wording] = {
    # xtdf's reference SDK: one 'xtdf: ...' line naming the failed check and its class
    "py": Wording(
        refusals={
            Refusal.TAMPER: (
                p(
                    r"tamper detected",
                    "xtdf: tamper detected: root signature does not match the segment hashes "
                    "(segments altered, reordered or removed, or wrong key) "
                    "(IntegrityError: RootSignatureError)",
                ),
                p(r"\bIntegrityError\b", "(IntegrityError: SegmentIntegrityError)"),
            ),
            Refusal.ASSERTION: (
                p(
                    r"assertion '[^']*'.*AssertionSignatureError",
                    "xtdf: tamper detected: assertion 'assertion1': binding signature does not "
                    "verify with the HS256 key (bad_signature: ) "
                    "(IntegrityError: AssertionSignatureError)",
                ),
            ),
            Refusal.NOT_ENTITLED: (
                p(
                    r"denied access to .*permission_denied",
                    "xtdf: no key access object for split '' yielded a key: keyAccess[0] "
                    "(wrapped at http://localhost:8181/kas, kid r1): KAS "
                    "http://localhost:8181/kas denied access to kao-0: permission_denied: "
                    "request error; rpc error: code = PermissionDenied desc = forbidden",
                ),
            ),
            Refusal.KAS_NOT_ALLOWED: (
                p(
                    r"is not allowed: it is not in the KAS allowlist",
                    "KAS 'http://localhost:8080/kas' is not allowed: it is not in the KAS "
                    "allowlist (add it with --kas-allowlist or pass --ignore-kas-allowlist)",
                ),
            ),
            Refusal.KEY_NOT_FOUND: (KAS_KEY_NOT_FOUND,),
        },
        crash=(PYTHON_TRACEBACK,),
        note="the reference SDK must never print a traceback: one is always a crash",
    ),
    "otdf-python": Wording(
        refusals={
            Refusal.TAMPER: (
                p(
                    r"^cryptography\.exceptions\.InvalidTag",
                    "cryptography.exceptions.InvalidTag",
                ),
                KAS_BAD_REQUEST,
            ),
            Refusal.NOT_ENTITLED: (
                p(
                    r"code = PermissionDenied desc = forbidden",
                    "rpc error: code = PermissionDenied desc = forbidden, trying local unwrap",
                ),
            ),
            Refusal.KEY_NOT_FOUND: (KAS_KEY_NOT_FOUND,),
        },
        crash=(PYTHON_BUG,),
        note="otdf-python's CLI (0.9.0, 0.11.0) lets every error escape as a Python "
        "traceback, refusals included; the refusal is read from the exception that ends it "
        "and the KAS error it logged, and a programming error (TypeError, KeyError, ...) "
        "is a crash",
        unobserved={
            Refusal.KAS_NOT_ALLOWED: "it never refuses (limits: allowlist)",
            Refusal.ASSERTION: "it does not claim assertion_verification",
        },
    ),
    "js": Wording(
        refusals={
            Refusal.TAMPER: (
                p(
                    r"ManifestIntegrityError",
                    "[CRITICAL] Failed integrity check on root signature "
                    "ManifestIntegrityError: Failed integrity check on root signature",
                ),
                p(
                    r"TdfDecryptError: OperationError",
                    "[CRITICAL] OperationError: The operation failed for an operation-specific "
                    "reason TdfDecryptError: OperationError: The operation failed for an "
                    "operation-specific reason",
                ),
                p(
                    r"DOMException \[OperationError\]",
                    "[CRITICAL] The operation failed for an operation-specific reason "
                    "DOMException [OperationError]: The operation failed for an "
                    "operation-specific reason",
                ),
                p(
                    r"KasDecryptError: .*status code 400",
                    "[CRITICAL] Unable to decrypt the response from KAS: [AxiosError: Request "
                    "failed with status code 400], response: [undefined] KasDecryptError: "
                    "Unable to decrypt the response from KAS: [AxiosError: Request failed "
                    "with status code 400], response: [undefined]",
                ),
            ),
            Refusal.NOT_ENTITLED: (
                p(
                    # NanoTDF (the ZTDF cells that would say it are skipped: multi_kas)
                    r"/rewrap => 403 Forbidden",
                    "[cause]: Error: POST http://localhost:8080/kas/v2/rewrap => 403 Forbidden",
                ),
            ),
        },
        crash=(
            p(
                r"\b(TypeError|ReferenceError|SyntaxError|RangeError)\b",
                "TypeError: Cannot read properties of undefined (reading 'length')",
            ),
        ),
        note="@opentdf/cli 2.0.0-beta.1412 prints '[CRITICAL] <message> <ErrorClass>: ...' "
        "and the stack for every error; an AES-GCM failure in NanoTDF is WebCrypto's "
        "OperationError, with no word of tampering",
        unobserved={
            Refusal.KAS_NOT_ALLOWED: "it does not claim kasallowlist",
            Refusal.ASSERTION: "it does not claim assertion_verification",
        },
    ),
    "go": Wording(
        refusals={
            Refusal.TAMPER: (
                p(
                    r"\[tamper detected\]",
                    "ERROR    Failed to decrypt file: reader.WriteTo failed: [tamper detected] "
                    "tdf: issue verifying root signature: [tamper detected] tdf: failed "
                    "integrity check on root signature",
                ),
                p(
                    r"gcm\.Open failed: cipher: message authentication failed",
                    "ERROR    Failed to decrypt file: splitKey.decrypt failed: gcm.Open failed: "
                    "cipher: message authentication failed",
                ),
                p(
                    # a shortened payload: the reader sizes it from the manifest's segments
                    r"TDFReader\.ReadPayload failed: zip: not a valid file size",
                    "ERROR    Failed to decrypt file: TDFReader.ReadPayload failed: zip: not a "
                    "valid file size",
                ),
            ),
            Refusal.ASSERTION: (
                p(
                    r"assertion verification failed",
                    "ERROR    Failed to decrypt file: reader.WriteTo failed: assertion "
                    "verification failed: assertion: failed to verify with provided key: "
                    "could not verify message using any of the signatures or keys",
                ),
                p(
                    r"issue verifying assertions",
                    "[tamper detected] tdf: issue verifying assertions, id: assertion1: "
                    "assertion hash missmatch",
                ),
            ),
            Refusal.NOT_ENTITLED: (
                p(
                    r"rewrap request 403: .*permission_denied",
                    "tdf: rewrap request 403: kao unwrap failed for split "
                    "{http://localhost:8181/kas }: permission_denied: request error",
                ),
                KAS_FORBIDDEN,
            ),
            Refusal.KAS_NOT_ALLOWED: (GO_SDK_KAS_NOT_ALLOWED,),
            Refusal.KEY_NOT_FOUND: (KAS_KEY_NOT_FOUND,),
        },
        crash=GO_CRASH,
        note="otdfctl 0.21.0 logs 'ERROR    Failed to decrypt file: <wrapped errors>'; an "
        "altered policy reads '[tamper detected] tdf: rewrap request 400'. otdfctl 0.30.0 "
        "(on the Go SDK 0.36.0) words every refusal the matrix provokes the same way: its "
        "refusal cells pass on these patterns (--focus=go@0.30.0, 2026-12-04)",
    ),
    # xtdf's own CLI on the OpenTDF Go SDK 0.36.0 (sdk/gosdk): the SDK's own error chains
    "gosdk": Wording(
        refusals={
            Refusal.TAMPER: (
                p(
                    r"\[tamper detected\]",
                    "xtdf-go-cli@0.36.0: error: reader.WriteTo failed: [tamper detected] tdf: "
                    "issue verifying root signature: [tamper detected] tdf: failed integrity "
                    "check on root signature",
                ),
                p(
                    r"gcm\.Open failed: cipher: message authentication failed",
                    "xtdf-go-cli@0.36.0: error: splitKey.decrypt failed: gcm.Open failed: "
                    "cipher: message authentication failed",
                ),
                p(
                    # a shortened payload: the reader sizes it from the manifest's segments
                    r"TDFReader\.ReadPayload failed: zip: not a valid file size",
                    "xtdf-go-cli@0.36.0: error: TDFReader.ReadPayload failed: zip: not a valid "
                    "file size: 0.payload: read of 5148 bytes at 0 does not fit an entry of "
                    "5147 bytes",
                ),
            ),
            Refusal.ASSERTION: (
                p(
                    r"assertion verification failed",
                    "xtdf-go-cli@0.36.0: error: reader.WriteTo failed: assertion verification "
                    "failed: assertion: failed to verify with provided key: failed to parse "
                    "jws: invalid byte sequence",
                ),
                p(
                    r"issue verifying assertions",
                    "xtdf-go-cli@0.36.0: error: reader.WriteTo failed: [tamper detected] tdf: "
                    "issue verifying assertions, id: assertion1: assertion hash missmatch",
                ),
            ),
            Refusal.NOT_ENTITLED: (
                p(
                    r"kao unwrap failed for split .*: permission_denied",
                    "kao unwrap failed for split {http://localhost:8181/kas }: "
                    "permission_denied: request error",
                ),
                KAS_FORBIDDEN,
            ),
            Refusal.KAS_NOT_ALLOWED: (GO_SDK_KAS_NOT_ALLOWED,),
            Refusal.KEY_NOT_FOUND: (KAS_KEY_NOT_FOUND,),
        },
        crash=GO_CRASH,
        note="xtdf-go-cli prints one line, 'xtdf-go-cli@0.36.0: error: <the SDK's wrapped "
        "errors>', after the SDK's own log lines; an altered policy or binding reads "
        "'[tamper detected] tdf: rewrap request 400' (the KAS's bad request)",
    ),
    # xtdf's own Java CLI on the OpenTDF Java SDK 0.7.3 (sdk/java), over gRPC
    "java": Wording(
        refusals={
            Refusal.TAMPER: (
                p(
                    r"AEADBadTagException: Tag mismatch",
                    "xtdf-java-cli@0.7.3: error: SDKException: error gcm decrypt (caused by "
                    "AEADBadTagException: Tag mismatch!)",
                ),
                p(
                    r"TDF\.NotValidateRootSignature",
                    "xtdf-java-cli@0.7.3: error: TDF.NotValidateRootSignature: root signature "
                    "validation failed",
                ),
                p(
                    r"TDF\.SegmentSizeMismatch",
                    "xtdf-java-cli@0.7.3: error: TDF.SegmentSizeMismatch: mismatch encrypted "
                    "segment size in manifest",
                ),
                p(
                    # a shortened payload: the reader sizes it from the manifest's segments
                    r"TDF\.TDFReadFailed: failed to read payload",
                    "xtdf-java-cli@0.7.3: error: TDF.TDFReadFailed: failed to read payload",
                ),
                KAS_BAD_REQUEST,
            ),
            Refusal.NOT_ENTITLED: (
                p(
                    r"PERMISSION_DENIED.*code = PermissionDenied desc = forbidden",
                    "xtdf-java-cli@0.7.3: error: StatusRuntimeException: gRPC PERMISSION_DENIED "
                    '"request error rpc error: code = PermissionDenied desc = forbidden"',
                ),
            ),
            Refusal.KEY_NOT_FOUND: (KAS_KEY_NOT_FOUND,),
        },
        crash=(
            p(r"^Exception in thread ", 'Exception in thread "main" java.lang.Error'),
            p(
                r"\b(NullPointerException|ClassCastException|ArrayIndexOutOfBoundsException|"
                r"NoSuchMethodError|NoClassDefFoundError)\b",
                "xtdf-java-cli@0.7.3: error: NullPointerException: Cannot invoke",
            ),
        ),
        note="the CLI prints one line, 'xtdf-java-cli@0.7.3: error: <exception>: <message> "
        "(caused by <cause>)'; KAS refusals are the gRPC status it got",
        unobserved={
            Refusal.KAS_NOT_ALLOWED: "it does not claim kasallowlist",
            Refusal.ASSERTION: "it does not claim assertion_verification",
        },
    ),
}
