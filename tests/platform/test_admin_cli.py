"""``xtdf policy`` argument handling and error reporting (no server needed)."""

from __future__ import annotations

import socket

import pytest

from xtdf.cli.main import main
from xtdf.errors import FormatError
from xtdf.platform.admin import algorithm_name, condition_set, rule_name


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_platform_is_one_line_and_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["policy", "--platform-url", url, "namespaces", "list"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("xtdf: ") and url in err


def test_platform_url_from_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("XTDF_PLATFORM_URL", url)
    assert main(["policy", "kas", "list"]) == 1
    assert url in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "mention"),
    [
        (["scs", "create"], "--subject-sets"),
        (["scs", "create", "--selector", ".clientId"], "--value"),
        (["scs", "create", "--subject-sets", "{"], "not JSON"),
        (["subject-mappings", "create", "--value", "https://a.com/attr/b/value/c"], "--scs"),
        (["keys", "import", "--kas", "default"], "--extra-keys"),
        (["keys", "import", "--kas", "k", "--extra-keys", "/nonexistent.json"], "cannot read"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], mention: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["policy", "--platform-url", url, *argv]) == 2
    err = capsys.readouterr().err
    assert mention in err and err.count("\n") == 1


def test_argparse_rejects_missing_target(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["policy", "keys", "assign", "--kas", "k", "--kid", "r1"])
    assert exc.value.code == 2
    assert "--namespace" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("given", "wire"),
    [
        ("all_of", "ATTRIBUTE_RULE_TYPE_ENUM_ALL_OF"),
        ("ANY_OF", "ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF"),
        ("hierarchy", "ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY"),
        ("ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF", "ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF"),
    ],
)
def test_rule_names(given: str, wire: str) -> None:
    assert rule_name(given) == wire


def test_bad_names_are_format_errors() -> None:
    with pytest.raises(FormatError, match="rule"):
        rule_name("most_of")
    with pytest.raises(FormatError, match="algorithm"):
        algorithm_name("dsa:1024")
    with pytest.raises(FormatError, match="operator"):
        condition_set(".clientId", ["x"], "like")
    assert algorithm_name("ec:secp256r1") == "ALGORITHM_EC_P256"
    cond = condition_set(".clientId", ["a"], "not_in")[0]["conditionGroups"][0]["conditions"][0]
    assert cond["operator"] == "SUBJECT_MAPPING_OPERATOR_ENUM_NOT_IN"
