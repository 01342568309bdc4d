"""ZTDF through the platform: key access targets from autoconfigure, shares from rewrap.

Encrypt asks the policy service which KASes (and keys) the data attributes need, fetches
the public keys it was not given, and hands the writer one target per split member.
Decrypt gives the reader a :class:`KasUnwrapper`: on its first call it checks every key
access object against the allowlist and sends one bulk rewrap per KAS, so a file split
across N KASes costs N requests, not one per object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xtdf.client import sessionkey
from xtdf.client.allowlist import KasAllowlist
from xtdf.client.autoconfigure import KeyRef, SplitStep, parse_fqns, plan, simple_key
from xtdf.client.kas import EC_P256, RSA_2048, PolicyRequest, key_access_message
from xtdf.client.platform_client import PlatformClient
from xtdf.errors import KeyAccessError, PlatformError, XtdfError

if TYPE_CHECKING:
    from xtdf.formats.ztdf.keyaccess import KeyAccessTarget
    from xtdf.formats.ztdf.manifest import KeyAccessObject, Manifest


@dataclass
class EncryptOptions:
    attributes: str = ""
    mime_type: str = ""
    ecwrap: bool = False
    target_mode: str = ""
    #: upstream's assertions JSON, or a path to it
    assertions: str = ""


def default_key(client: PlatformClient) -> KeyRef:
    """The platform's base key (well-known ``base_key``) if it has one, else the default KAS."""
    try:
        base = client.wellknown().get("base_key")
    except PlatformError:
        base = None
    key = simple_key(base) if isinstance(base, dict) else None
    if key is not None and key.pem and key.algorithm:
        return key
    return KeyRef(client.config.kas_url)


def split_plan(client: PlatformClient, attributes: str) -> tuple[list[SplitStep], list[str]]:
    """The split steps and the attribute FQNs to write into the policy."""
    fqns = parse_fqns(attributes) if attributes else []
    if not fqns:
        return [SplitStep(default_key(client))], []
    answer = client.attribute_values([f.fqn for f in fqns])
    steps = plan(fqns, answer, KeyRef(""))
    if len(steps) == 1 and not steps[0].key.kas_url:  # no grants or mapped keys anywhere
        steps = [SplitStep(default_key(client))]
    return steps, [f.fqn for f in fqns]


def targets(
    client: PlatformClient, steps: Sequence[SplitStep], ecwrap: bool
) -> list[KeyAccessTarget]:
    """A writer target per step: a mapped key as given, else the KAS's current key."""
    from xtdf.formats.ztdf.keyaccess import KeyAccessTarget

    out = []
    for step in steps:
        key = step.key
        if key.pem:
            out.append(KeyAccessTarget(key.kas_url, key.pem, key.kid, step.split_id))
            continue
        kas_key = client.kas_public_key(key.kas_url, EC_P256 if ecwrap else RSA_2048)
        out.append(KeyAccessTarget(key.kas_url, kas_key.pem, kas_key.kid, step.split_id))
    return out


def encrypt(client: PlatformClient, src: Any, dst: Any, options: EncryptOptions) -> None:
    """Encrypt ``src`` into the ZTDF ``dst`` (paths or binary file objects)."""
    from xtdf.formats.ztdf import writer

    steps, fqns = split_plan(client, options.attributes)
    kwargs: dict[str, Any] = {}
    if options.mime_type:
        kwargs["mime_type"] = options.mime_type
    if options.target_mode:
        kwargs["target_mode"] = options.target_mode
    if options.assertions:
        from xtdf.formats.ztdf.assertions import load_assertion_configs

        kwargs["assertions"] = load_assertion_configs(options.assertions)
    writer.encrypt(
        src, dst, key_access=targets(client, steps, options.ecwrap), attributes=fqns, **kwargs
    )


@dataclass
class KasUnwrapper:
    """The reader's unwrapper: shares come from the KASes the manifest names."""

    client: PlatformClient
    allowlist: KasAllowlist
    ecwrap: bool = False
    _results: dict[int, bytes | XtdfError] | None = field(default=None, init=False)

    def _rewrap_all(self, manifest: Manifest) -> dict[int, bytes | XtdfError]:
        from xtdf.crypto.ec import TDF_SALT

        info = manifest.encryption_information
        results: dict[int, bytes | XtdfError] = {}
        by_kas: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for i, kao in enumerate(info.key_access):
            try:
                self.allowlist.check(kao.url)
                message = key_access_message(kao.to_dict(exclude_none=True))
            except XtdfError as exc:
                results[i] = exc
                continue
            by_kas.setdefault(kao.url, []).append((i, message))
        if not by_kas:
            return results
        keygen = sessionkey.take(self.ecwrap)
        try:
            self.client.tokens.token()  # fetch the token while the session key is made
        except XtdfError as exc:
            for members in by_kas.values():
                results.update((i, exc) for i, _ in members)
            return results
        session_key = keygen.result()
        for kas_url, members in by_kas.items():
            request = PolicyRequest(
                "policy", info.policy, [(f"kao-{i}", msg) for i, msg in members]
            )
            try:
                answer = self.client.rewrap(kas_url, [request], session_key, TDF_SALT)
            except XtdfError as exc:
                for i, _ in members:
                    results[i] = exc
                continue
            for i, _ in members:
                results[i] = answer.get(
                    f"kao-{i}", KeyAccessError(f"KAS {kas_url} did not answer for kao-{i}")
                )
        return results

    def __call__(self, kao: KeyAccessObject, manifest: Manifest) -> bytes:
        if self._results is None:
            self._results = self._rewrap_all(manifest)
        kaos = manifest.encryption_information.key_access
        index = next((i for i, k in enumerate(kaos) if k is kao), None)
        if index is None or index not in self._results:
            raise KeyAccessError(f"key access object for {kao.url} is not in the manifest")
        result = self._results[index]
        if isinstance(result, XtdfError):
            raise result
        return result


@dataclass
class DecryptOptions:
    ecwrap: bool = False
    assertion_keys: str = ""
    verify_assertions: bool = True
    kas_allowlist: str = ""
    ignore_kas_allowlist: bool = False


def allowlist_for(client: PlatformClient, options: DecryptOptions) -> KasAllowlist:
    """The user's list if given; else the platform's own KAS, widened by its registry."""
    if options.ignore_kas_allowlist:
        return KasAllowlist(ignore=True)
    if options.kas_allowlist:
        return KasAllowlist.parse(options.kas_allowlist)
    return KasAllowlist(
        [client.config.platform_url, client.config.kas_url], more=client.registered_kas_urls
    )


def decrypt(client: PlatformClient, src: Any, dst: Any, options: DecryptOptions) -> None:
    """Decrypt the ZTDF ``src`` into ``dst`` (a binary file object, normally atomic)."""
    from xtdf.formats.ztdf import reader

    keys = None
    if options.assertion_keys:
        from xtdf.formats.ztdf.assertions import load_verification_keys

        keys = load_verification_keys(options.assertion_keys)
    unwrapper = KasUnwrapper(client, allowlist_for(client, options), options.ecwrap)
    reader.decrypt(
        src,
        dst,
        unwrapper=unwrapper,
        verify_assertions=options.verify_assertions,
        assertion_keys=keys,
    )
