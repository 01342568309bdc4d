#!/usr/bin/env bash
# Install otdf-python VERSION (PyPI) into sdk/otdf-python/dist/VERSION/: its own venv from the
# pinned requirements-VERSION.txt, and cli.sh (the adapter) generated from cli.sh.in.
# Idempotent: the venv is rebuilt only when its requirements change; cli.sh is always rewritten.
#   usage: install.sh VERSION       (PYTHON=python3.x to choose the interpreter, >= 3.10)
set -euo pipefail
here=$(cd -- "$(dirname -- "$0")" && pwd)
version=${1:?usage: install.sh VERSION}
req=$here/requirements-$version.txt
[[ -f $req ]] || { echo "install.sh: no pinned requirements for otdf-python $version ($req)" >&2; exit 2; }
dist=$here/dist/$version
venv=$dist/venv
python=${PYTHON:-python3}
mkdir -p "$dist"
rm -f "$dist/.installed"

want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || "$(cat "$venv/.xtdf-requirements" 2>/dev/null)" != "$want" ]]; then
  echo "otdf-python $version: creating $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --require-virtualenv --only-binary=:all: -r "$req"
  echo "$want" >"$venv/.xtdf-requirements"
fi

# Releases from 0.10 on answer `supports` themselves; older ones get a table.
if "$venv/bin/python" -m otdf_python --help | grep -q '{[a-z,]*supports[a-z,]*}'; then
  native=1
  rm -f "$dist/supports.tsv"
else
  native=0
  table=$here/supports-$version.tsv
  [[ -f $table ]] || { echo "install.sh: otdf-python $version has no supports command and $table is missing" >&2; exit 2; }
  grep -v '^#' "$table" >"$dist/supports.tsv"
fi

sed -e "s/@VERSION@/$version/g" -e "s/@NATIVE_SUPPORTS@/$native/g" "$here/cli.sh.in" >"$dist/cli.sh.tmp"
chmod 755 "$dist/cli.sh.tmp"
mv -f "$dist/cli.sh.tmp" "$dist/cli.sh"
"$dist/cli.sh" supports hexless >/dev/null 2>&1 || { rc=$?; [[ $rc -le 2 ]] || { echo "install.sh: $dist/cli.sh supports failed ($rc)" >&2; exit 1; }; }
touch "$dist/.installed"
echo "otdf-python $version: $dist/cli.sh"
