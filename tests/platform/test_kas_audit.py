"""The KAS audit trail on its own: every field of a record, the file it appends to (one
JSON line each, readable while the KAS runs), the caller's identity from any of the claims
SDKs' tokens carry, and the in-memory tail's bound."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from xtdf.platform.kas.audit import DENY, PERMIT, AuditLog, entity_of


def test_a_record_has_every_field_and_reaches_the_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "state" / "audit.log"
    log = AuditLog(path)
    rec = log.record(
        instance="value1",
        decision=PERMIT,
        reason="entitled",
        claims={"client_id": "opentdf", "sub": "alice"},
        kid="r1",
        policy_uuid="u-1",
        policy_id="p-1",
        kao_id="kao-0",
        tdf_format="ztdf",
    )
    assert set(rec) == {
        "time",
        "event",
        "kas",
        "kid",
        "policy",
        "policyId",
        "keyAccessObjectId",
        "format",
        "entity",
        "decision",
        "reason",
    }
    assert (rec["event"], rec["kas"], rec["kid"], rec["policy"], rec["policyId"]) == (
        "rewrap",
        "value1",
        "r1",
        "u-1",
        "p-1",
    )
    assert (rec["keyAccessObjectId"], rec["format"], rec["decision"], rec["reason"]) == (
        "kao-0",
        "ztdf",
        "permit",
        "entitled",
    )
    assert rec["entity"] == {"clientId": "opentdf", "sub": "alice"}
    when = datetime.fromisoformat(rec["time"])
    assert when.utcoffset() is not None and when.utcoffset().total_seconds() == 0
    assert len(rec["time"].split(".")[1].split("+")[0]) == 3  # milliseconds
    # line-buffered: the line is in the file before close
    line = path.read_text(encoding="utf-8")
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == rec
    assert ", " not in line and '": ' not in line  # compact separators
    log.record(instance="default", decision=DENY, reason="not entitled", claims=None)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["decision"] == "deny"
    assert json.loads(lines[1])["kid"] == "" and json.loads(lines[1])["format"] == ""
    log.close()
    log.close()  # twice is fine
    log.record(instance="default", decision=DENY, reason="after close", claims=None)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2
    assert log.records()[-1]["reason"] == "after close"


def test_a_log_appends_to_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text('{"earlier": true}\n', encoding="utf-8")
    AuditLog(path).record(instance="default", decision=PERMIT, reason="r", claims=None)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"earlier": True} and len(lines) == 2


def test_the_memory_keeps_the_latest_only() -> None:
    log = AuditLog(None, keep=2)
    for i in range(3):
        log.record(instance="default", decision=PERMIT, reason=str(i), claims=None)
    assert [r["reason"] for r in log.records()] == ["1", "2"]
    assert log.records() is not log.records()  # a copy, not the live deque
    assert AuditLog(None)._recent.maxlen == 10_000


def test_the_entity_from_any_claim_spelling() -> None:
    assert entity_of(None) == {"clientId": "", "sub": ""}
    assert entity_of({}) == {"clientId": "", "sub": ""}
    assert entity_of({"azp": "a", "sub": "s"}) == {"clientId": "a", "sub": "s"}
    assert entity_of({"sub": "s"}) == {"clientId": "", "sub": "s"}
    assert entity_of({"clientId": "c"}) == {"clientId": "c", "sub": ""}
    assert entity_of({"client_id": "x", "azp": "a", "clientId": "c"})["clientId"] == "x"
    assert entity_of({"client_id": "", "azp": "a"})["clientId"] == "a"
    assert entity_of({"azp": None, "clientId": "c", "sub": None}) == {"clientId": "c", "sub": ""}
    assert entity_of({"client_id": 5, "sub": 7}) == {"clientId": "5", "sub": "7"}


def test_a_log_in_a_new_directory_and_a_record_left_to_its_defaults(tmp_path: Path) -> None:
    path = tmp_path / "state" / "logs" / "audit.log"  # neither directory exists yet
    AuditLog(path).record(instance="default", decision=DENY, reason="r", claims=None)
    (line,) = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert [record[k] for k in ("kid", "policy", "policyId", "keyAccessObjectId", "format")] == [
        ""
    ] * 5
    assert record["entity"] == {"clientId": "", "sub": ""}
