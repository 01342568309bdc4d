"""Build hook: generate Python protobuf modules from ``proto/`` at build time.

The ``.proto`` files under ``proto/xtdf/_proto/`` are our own definitions of the OpenTDF
wire messages (same package names, field names and numbers as the protocol). Generated
modules land in ``src/xtdf/_proto/`` (not committed) so that they import as
``xtdf._proto.<pkg>.<name>_pb2``. Run ``python hatch_build.py`` to regenerate by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PROTO_ROOT = ROOT / "proto"
OUT = ROOT / "src"


def generate() -> list[Path]:
    from grpc_tools import protoc  # build-time only dependency

    import grpc_tools

    files = sorted(PROTO_ROOT.rglob("*.proto"))
    if not files:
        return []
    include = str(Path(grpc_tools.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        *(str(f.relative_to(PROTO_ROOT)) for f in files),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed on " + " ".join(args[5:]))
    generated = []
    for f in files:
        pkg_dir = OUT / f.relative_to(PROTO_ROOT).parent
        d = pkg_dir
        while d != OUT / "xtdf":
            init = d / "__init__.py"
            if not init.exists():
                init.write_text('"""Generated protobuf modules (see hatch_build.py)."""\n')
            d = d.parent
        generated.append(pkg_dir)
    return generated


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script outside a build
    BuildHookInterface = object  # type: ignore[assignment,misc]


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    def initialize(self, version: str, build_data: dict) -> None:  # noqa: ARG002
        generate()


if __name__ == "__main__":
    out = generate()
    sys.stdout.write(f"generated protobuf modules in {len(set(out))} package(s)\n")
