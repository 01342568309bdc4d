"""The cross-SDK suite. Run from here: ``pytest -n auto`` (see the project README)."""

pytest_plugins = ["xtdf.harness.plugin"]
