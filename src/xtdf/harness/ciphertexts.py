"""Encrypt through an SDK, at most once per distinct input across all workers.

The cache key holds every input that changes the result (SDK and its installation,
container, options, plaintext digest, the KAS keys in force). Two ciphertexts made from
the same inputs are interchangeable for the tests, so one is made and shared.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path

from xtdf.harness.cache import SharedCache, cache_key, file_digest
from xtdf.harness.sdks import SDK

KAS_ENV_VARS = ("KASURL", "KASURL1", "KASURL2", "KASURL3", "KASURL4", "KASURL5", "KASURL6")
KAS_ALGORITHMS = ("rsa:2048", "ec:secp256r1")


def kas_fingerprint(variables: Mapping[str, str]) -> str:
    """Digest of the public keys every configured KAS answers with right now."""
    h = hashlib.sha256()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for var in KAS_ENV_VARS:
        base = variables.get(var)
        if not base:
            continue
        for alg in KAS_ALGORITHMS:
            url = f"{base.rstrip('/')}/v2/kas_public_key?algorithm={alg}"
            if not base.rstrip("/").endswith("/kas"):
                url = f"{base.rstrip('/')}/kas/v2/kas_public_key?algorithm={alg}"
            try:
                with opener.open(url, timeout=5) as resp:
                    h.update(var.encode() + b"\0" + resp.read())
            except OSError as exc:
                h.update(f"{var}\0{alg}\0unreachable:{type(exc).__name__}".encode())
    return h.hexdigest()


@cache
def _pt_digest(path: Path, mtime_ns: int, size: int) -> str:
    return file_digest(path)


class CipherTexts:
    """The suite's view of the shared cache: ``encrypt`` returns a ciphertext path, this
    process's own checked copy (so no other worker's doing can change it under a test)."""

    def __init__(self, cache: SharedCache, kas_keys: str, private_dir: Path) -> None:
        self.cache = cache
        self.kas_keys = kas_keys
        self.private_dir = private_dir
        self._fingerprints: dict[SDK, str] = {}

    def _fingerprint(self, sdk: SDK) -> str:
        if sdk not in self._fingerprints:
            self._fingerprints[sdk] = sdk.fingerprint()
        return self._fingerprints[sdk]

    def key(
        self,
        sdk: SDK,
        pt_file: Path,
        container: str,
        *,
        mime_type: str = "",
        attr_values: Iterable[str] | None = None,
        assert_value: str = "",
        policy_mode: str = "encrypted",
        target_mode: str | None = None,
    ) -> str:
        st = pt_file.stat()
        return cache_key(
            kind="ciphertext",
            sdk=str(sdk),
            sdk_fingerprint=self._fingerprint(sdk),
            container=container,
            target_mode=target_mode or "",
            attributes=list(attr_values or []),
            assertions=assert_value,
            mime_type=mime_type,
            policy_mode=policy_mode,
            plaintext=_pt_digest(pt_file, st.st_mtime_ns, st.st_size),
            kas_keys=self.kas_keys,
        )

    def encrypt(self, sdk: SDK, pt_file: Path, container: str, **options: object) -> Path:
        key = self.key(sdk, pt_file, container, **options)  # type: ignore[arg-type]
        suffix = ".ntdf" if container.startswith("nano") else ".tdf"

        def produce(out: Path) -> None:
            sdk.encrypt(pt_file, out, container=container, **options)  # type: ignore[arg-type]

        return self.cache.get_or_create_copy(
            key, produce, suffix=suffix, private_dir=self.private_dir
        )

    def shared_value(
        self, name: str, inputs: Mapping[str, object], produce: Callable[[], object]
    ) -> object:
        """Run ``produce()`` once per run for all workers and hand its JSON result round."""
        key = cache_key(kind="fixture", name=name, run=self.cache.run_id, **inputs)
        return self.cache.get_or_create_json(key, produce)


def describe_options(options: Mapping[str, object]) -> str:
    return json.dumps(options, sort_keys=True, default=str)
