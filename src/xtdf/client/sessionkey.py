"""The rewrap session key, made on a thread from the earliest moment a decrypt is known.

An RSA-2048 key takes 20 to 150 ms to generate (more than the rest of a small decrypt);
``cryptography`` releases the GIL while OpenSSL searches for primes, so on a second core
the key costs no wall time if it is started before the imports, the manifest and the
token fetch it can overlap (its own imports happen first, on the caller's thread).
``cli.sh decrypt`` calls :func:`start` before it imports the CLI; the unwrapper calls
:func:`take` when it needs the key, and makes one itself if nothing was started (or the
wrong kind was).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class SessionKeyMaker:
    """One session key (RSA-2048, or EC P-256 for ``ecwrap``) generated on a thread.

    The thread is not a daemon: if the caller fails first, interpreter exit waits for it
    rather than killing it inside OpenSSL.
    """

    def __init__(self, ec_session: bool) -> None:
        self.ec_session = ec_session
        self._key: Any = None
        self._error: BaseException | None = None
        # imported here, not on the thread: two threads importing one package at once can
        # meet each other's half-initialised modules; the thread only computes
        if ec_session:
            from xtdf.crypto import ec as xec

            self._generate: Callable[[], Any] = lambda: xec.generate("secp256r1")
        else:
            from xtdf.crypto import rsa as xrsa

            self._generate = lambda: xrsa.generate(2048)
        self._thread = threading.Thread(target=self._run, name="session-key")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._key = self._generate()
        except BaseException as exc:  # re-raised in the caller's thread
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._key


_started: SessionKeyMaker | None = None
#: the DPoP key of this process's token source (RSA-2048, as the Go SDK's: the Go KAS of
#: service v0.13.0 verifies a signed request token with RS256 only)
_dpop: SessionKeyMaker | None = None
_lock = threading.Lock()


def start(ec_session: bool) -> None:
    """Begin making the keys this process's decrypt will need (once per process): the DPoP
    key first (the token fetch needs it before the rewrap needs the session key)."""
    global _started, _dpop
    with _lock:
        if _dpop is None:
            _dpop = SessionKeyMaker(ec_session=False)
        if _started is None:
            _started = SessionKeyMaker(ec_session)


def take_dpop() -> Any:
    """The DPoP key started early, else a new RSA-2048 key; each serves one token source."""
    global _dpop
    with _lock:
        maker, _dpop = _dpop, None
    return (maker or SessionKeyMaker(ec_session=False)).result()


def take(ec_session: bool) -> SessionKeyMaker:
    """The key started early if it is of the kind asked for, else a new one.

    Each key serves one decrypt: a second caller gets a fresh key, never a used one.
    """
    global _started
    with _lock:
        maker, _started = _started, None
    if maker is not None and maker.ec_session == ec_session:
        return maker
    return SessionKeyMaker(ec_session)
