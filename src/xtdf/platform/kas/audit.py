"""The KAS audit trail: one JSON line per rewrap decision, appended to ``<state>/audit.log``.

Every key access object a rewrap considers gets a line (permit or deny, and why), and so
does a whole request refused before any key was looked at (bad token, bad SRT), so the log
answers "who got which key, under which policy, and who was turned away". The most recent
records are also kept in memory for tests and diagnostics.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIT_FILE = "audit.log"
PERMIT = "permit"
DENY = "deny"


def entity_of(claims: dict[str, Any] | None) -> dict[str, str]:
    """Client id and subject of the caller, as far as the token says."""
    if not claims:
        return {"clientId": "", "sub": ""}
    client = claims.get("client_id") or claims.get("azp") or claims.get("clientId") or ""
    return {"clientId": str(client), "sub": str(claims.get("sub") or "")}


class AuditLog:
    def __init__(self, path: Path | None, keep: int = 10_000) -> None:
        self.path = path
        self._recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def record(
        self,
        *,
        instance: str,
        decision: str,
        reason: str,
        claims: dict[str, Any] | None,
        kid: str = "",
        policy_uuid: str = "",
        policy_id: str = "",
        kao_id: str = "",
        tdf_format: str = "",
    ) -> dict[str, Any]:
        rec = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": "rewrap",
            "kas": instance,
            "kid": kid,
            "policy": policy_uuid,
            "policyId": policy_id,
            "keyAccessObjectId": kao_id,
            "format": tdf_format,
            "entity": entity_of(claims),
            "decision": decision,
            "reason": reason,
        }
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        with self._lock:
            self._recent.append(rec)
            if self._fh is not None:
                self._fh.write(line)
        return rec

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._recent)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
