"""How the matrix is spread over xdist workers: tests of one encryption stay together.

Under ``--dist load`` xdist deals tests out round-robin, so neighbouring tests (one
ciphertext, decrypted by each SDK in turn) reach different workers at the same moment: one
encrypts while the others wait on that cache key's lock, idle. So the plugin orders each
module's tests by encryption family (module, encrypting SDK, container), and
``xtest/pytest.ini`` selects ``--dist worksteal``, which gives each worker a contiguous
share of that order and lets an idle worker take half of another's remaining tests: each
worker makes its own ciphertexts and decrypts them while the others do the same.
"""

from __future__ import annotations

import pytest


def family_of(item: pytest.Item) -> str | None:
    """The encryption family of a matrix test, or None for tests without an encrypting SDK."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "encrypt_sdk" not in params:
        return None
    module = getattr(getattr(item, "module", None), "__name__", "")
    return f"{module}:{params['encrypt_sdk']}:{params.get('container', '-')}"


def cluster_by_family(items: list[pytest.Item]) -> None:
    """Move each test next to the first test of its family, keeping all else in order.

    Deterministic, so every xdist worker collects the same order (xdist requires it).
    """
    first: dict[str, int] = {}
    keys: list[tuple[int, int]] = []
    for index, item in enumerate(items):
        family = family_of(item)
        anchor = index if family is None else first.setdefault(family, index)
        keys.append((anchor, index))
    order = sorted(range(len(items)), key=keys.__getitem__)
    items[:] = [items[i] for i in order]
