"""SDKs as the suite sees them: a ``cli.sh`` that follows upstream's contract.

Discovered from ``sdk/<name>/dist/<version>/cli.sh`` so that anyone can drop in an
upstream-built SDK (Go, Java, ...) and it joins the matrix. Options travel as ``XT_WITH_*``
environment variables, exactly as upstream's harness sends them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from xtdf.harness import refusals, timing
from xtdf.harness.options import CONTAINERS
from xtdf.harness.wordings import Refusal

#: features upstream's tests probe with ``cli.sh supports``
FEATURES = (
    "assertions",
    "assertion_verification",
    "autoconfigure",
    "better-messages-2024",
    "bulk_rewrap",
    "connectrpc",
    "ecwrap",
    "hexaflexible",
    "hexless",
    "kasallowlist",
    "key_management",
    "nano_attribute_bug",
    "nano_ecdsa",
    "nano_policymode_plaintext",
    "ns_grants",
)


_ANSWERS: dict[tuple[SDK, str], int] = {}


class SdkError(Exception):
    """An SDK process failed; carries its exit status and output for the report."""

    def __init__(self, sdk: SDK, verb: str, result: subprocess.CompletedProcess[bytes]) -> None:
        self.returncode = result.returncode
        self.stdout = result.stdout.decode(errors="replace")
        self.stderr = result.stderr.decode(errors="replace")
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-5:]
        super().__init__(f"{sdk} {verb} exited {result.returncode}: " + " | ".join(tail))


def base_container(container: str) -> str:
    """The FMT argument: ``ztdf-ecwrap`` is ztdf plus a flag, ``nano-with-ecdsa`` nano."""
    return "nano" if container.startswith("nano") else "ztdf"


@dataclass(frozen=True)
class SDK:
    name: str
    version: str
    path: Path = field(compare=False)

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def id(self) -> str:
        return str(self)

    # -- fingerprint ---------------------------------------------------------------
    def fingerprint(self) -> str:
        """Changes when the installation changes, so cached ciphertexts never go stale.

        Hashes the size and mtime of every file in the dist directory, plus the trees named
        one per line in an optional ``fingerprint-paths`` file (an SDK that runs from a
        source tree, like ours, lists that tree).
        """
        return _tree_fingerprint(self.path.parent)

    # -- the contract --------------------------------------------------------------
    def _run(
        self,
        args: list[str],
        env: dict[str, str],
        verb: str,
        expect_error: Refusal | None,
        output: Path,
    ) -> None:
        """Run one verb; with ``expect_error`` it must be that refusal, leaving no output."""
        if expect_error is not None and not isinstance(expect_error, Refusal):
            raise TypeError(f"expect_error must name a Refusal, not {expect_error!r}")
        full_env = {**os.environ, **env}
        with timing.CLOCK.timing(f"sdk:{verb}:{self}"):
            result = subprocess.run([str(self.path), *args], env=full_env, capture_output=True)
        if expect_error is not None:
            refusals.check(self, verb, expect_error, result, output)
            return
        if result.returncode != 0:
            raise SdkError(self, verb, result)

    def answer(self, feature: str) -> int:
        """``cli.sh supports FEATURE``: 0 yes, 1 no, 2 unknown; asked once per process."""
        memo = _ANSWERS.get((self, feature))
        if memo is None:
            with timing.CLOCK.timing(f"sdk:supports:{self}"):
                result = subprocess.run([str(self.path), "supports", feature], capture_output=True)
            if result.returncode not in (0, 1, 2):
                raise SdkError(self, f"supports {feature}", result)
            memo = _ANSWERS[(self, feature)] = result.returncode
        return memo

    def supports(self, feature: str) -> bool:
        return self.answer(feature) == 0

    def encrypt(
        self,
        pt_file: Path,
        ct_file: Path,
        mime_type: str = "",
        container: str = "ztdf",
        attr_values: Iterable[str] | None = None,
        assert_value: str = "",
        policy_mode: str = "encrypted",
        target_mode: str | None = None,
        expect_error: Refusal | None = None,
    ) -> None:
        _check_container(container)
        env: dict[str, str] = {}
        if mime_type:
            env["XT_WITH_MIME_TYPE"] = mime_type
        if attr_values:
            env["XT_WITH_ATTRIBUTES"] = ",".join(attr_values)
        if assert_value:
            env["XT_WITH_ASSERTIONS"] = assert_value
        if target_mode and base_container(container) == "ztdf":
            env["XT_WITH_TARGET_MODE"] = target_mode
        if container == "ztdf-ecwrap":
            env["XT_WITH_ECWRAP"] = "true"
        if container == "nano-with-ecdsa":
            env["XT_WITH_ECDSA_BINDING"] = "true"
        if policy_mode == "plaintext":
            env["XT_WITH_PLAINTEXT_POLICY"] = "true"
        args = ["encrypt", str(pt_file), str(ct_file), base_container(container)]
        self._run(args, env, "encrypt", expect_error, ct_file)

    def decrypt(
        self,
        ct_file: Path,
        rt_file: Path,
        container: str = "ztdf",
        assert_keys: str = "",
        verify_assertions: bool = True,
        ecwrap: bool = False,
        expect_error: Refusal | None = None,
        kasallowlist: str = "",
        ignore_kas_allowlist: bool = False,
    ) -> None:
        """``cli.sh decrypt``; with ``expect_error`` (a :class:`Refusal`) the SDK must refuse
        for that reason and leave ``rt_file`` absent or empty (:func:`refusals.check`)."""
        _check_container(container)
        env: dict[str, str] = {}
        if assert_keys:
            env["XT_WITH_ASSERTION_VERIFICATION_KEYS"] = assert_keys
        if not verify_assertions:
            env["XT_WITH_VERIFY_ASSERTIONS"] = "false"
        if ecwrap or container == "ztdf-ecwrap":
            env["XT_WITH_ECWRAP"] = "true"
        if kasallowlist:
            env["XT_WITH_KAS_ALLOWLIST"] = env["XT_WITH_KAS_ALLOW_LIST"] = kasallowlist
        if ignore_kas_allowlist:
            env["XT_WITH_IGNORE_KAS_ALLOWLIST"] = "true"
        args = ["decrypt", str(ct_file), str(rt_file), base_container(container)]
        self._run(args, env, "decrypt", expect_error, rt_file)


def _check_container(container: str) -> None:
    if container not in CONTAINERS:
        raise ValueError(f"unknown container {container!r}; valid: {', '.join(CONTAINERS)}")


def _tree_fingerprint(root: Path) -> str:
    h = hashlib.sha256()
    trees = [root]
    extra = root / "fingerprint-paths"
    if extra.is_file():
        trees += [Path(line.strip()) for line in extra.read_text().splitlines() if line.strip()]
    for tree in trees:
        for dirpath, dirnames, filenames in os.walk(tree):
            dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", ".git"))
            for name in sorted(filenames):
                p = Path(dirpath, name)
                try:
                    st = p.stat()
                except FileNotFoundError:
                    continue
                h.update(f"{p.relative_to(tree)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def discover(root: Path) -> list[SDK]:
    """Every ``<root>/<name>/dist/<version>/cli.sh`` that is executable, sorted."""
    found = []
    for cli in sorted(root.glob("*/dist/*/cli.sh")):
        if os.access(cli, os.X_OK):
            found.append(SDK(name=cli.parent.parent.parent.name, version=cli.parent.name, path=cli))
    return found


def select(available: list[SDK], wanted: list[str]) -> list[SDK]:
    """Pick SDKs by ``name`` (every version) or ``name@version``."""
    chosen = []
    for sdk in available:
        if sdk.name in wanted or str(sdk) in wanted:
            chosen.append(sdk)
    return chosen


def valid_names(available: list[SDK]) -> list[str]:
    names = sorted({s.name for s in available})
    return names + sorted(str(s) for s in available)
