#!/usr/bin/env bash
# Build a Go lane into sdk/<lane>/dist/VERSION/ and generate its adapter cli.sh from
# sdk/go/cli.sh.in. Two kinds of lane (sdk/go/go.mk, sdk/gosdk/gosdk.mk):
#   install.sh MODULE VERSION ZIP_SUM GOMOD_SUM   upstream's otdfctl at a pinned release
#          e.g. install.sh github.com/opentdf/otdfctl 0.21.0 h1:... h1:...   (lane go)
#     [--raise SUMFILE MODULE@vX.Y.Z...]           the same, with these dependencies raised to
#          the given releases (where the proxy refuses the ones the release pins) and SUMFILE
#          holding the go.sum lines that vouch for what the raise brings in; see sdk/go/go.mk
#   install.sh --source DIR VERSION               xtdf's own CLI in DIR on the Go SDK VERSION
#          e.g. install.sh --source sdk/gosdk 0.36.0                          (lane gosdk)
#
# otdfctl is built in a throwaway module that requires MODULE@vVERSION, so `go` resolves
# exactly otdfctl's own dependency graph. The checksum database cannot vouch for these
# otdfctl releases, so the throwaway go.sum holds the pinned checksums of otdfctl itself
# (go refuses a download that does not match them) plus otdfctl's own go.sum for every
# dependency; GOTOOLCHAIN=local. Our own CLI builds from its committed go.mod and go.sum
# (-mod=readonly: go refuses anything they do not vouch for) with the toolchain GOTOOLCHAIN
# names (the Go SDK's go.mod may need a newer Go than the machine's). Both: CGO_ENABLED=0,
# -trimpath.
#
# `supports` answers are decided here, once, from the binary's `--version --json` and
# `help` output (the probes upstream's xtest/sdk/go/cli.sh runs on every call) and kept in
# supports.tsv with their evidence. The binary's SHA-256 goes to <binary>.sha256, so the
# suite's cache key (SDK.fingerprint) changes with the build.
#
# Idempotent: the binary is rebuilt only when the pins or sources, the Go toolchain or the
# build flags change (.build-key), and every generated file is replaced only when its
# content changed. Nothing is installed until everything has been built and checked in a
# temporary directory: a failed build leaves the previous installation (or none) as it was.
# Without a usable `go` it prints one line and exits 0, or exits 1 under CI=true.
set -euo pipefail
here=$(cd -- "$(dirname -- "$0")" && pwd)
usage="usage: install.sh MODULE VERSION ZIP_SUM GOMOD_SUM [--raise SUMFILE MODULE@vX.Y.Z...] | install.sh --source DIR VERSION"
python=${PYTHON:-python3}
if [[ ${1:-} == --source ]]; then
  [[ $# -eq 3 && -d $2 && -f $2/go.mod ]] || { echo "install.sh: $usage (DIR holds go.mod)" >&2; exit 2; }
  source_dir=$(cd -- "$2" && pwd) version=$3
  lane=${source_dir##*/} tool=xtdf-go-cli
  module="xtdf's CLI on github.com/opentdf/platform/sdk v$version"
  dist=$source_dir/dist/$version
else
  [[ $# -ge 4 && -n $1 && -n $2 && -n $3 && -n $4 ]] || { echo "install.sh: $usage" >&2; exit 2; }
  source_dir= module=$1 version=$2 zip_sum=$3 mod_sum=$4
  shift 4
  [[ $zip_sum == h1:* && $mod_sum == h1:* ]] ||
    { echo "install.sh: checksums must be go.sum h1: hashes" >&2; exit 2; }
  if [[ $# -gt 0 ]]; then
    [[ $1 == --raise && $# -ge 3 && -f $2 ]] ||
      { echo "install.sh: $usage (--raise takes a go.sum file and at least one module)" >&2; exit 2; }
    raise_sums=$(cd -- "$(dirname -- "$2")" && pwd)/${2##*/} raise_mods="${*:3}"
    for r in $raise_mods; do
      [[ $r =~ ^[^@[:space:]]+@v[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
        { echo "install.sh: --raise $r is not MODULE@vX.Y.Z" >&2; exit 2; }
    done
  fi
  lane=go tool=otdfctl
  dist=$here/dist/$version
fi
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  { echo "install.sh: version '$version' is not MAJOR.MINOR.PATCH (no leading v)" >&2; exit 2; }

# -- the toolchain -----------------------------------------------------------------------
skip() {
  if [[ ${CI:-} == true ]]; then
    echo "sdks-$lane: $lane lane ($tool $version) cannot be built: $1 (CI=true: failing)" >&2
    exit 1
  fi
  echo "sdks-$lane: skipped the $lane lane ($tool $version): $1"
  exit 0
}
# shellcheck source=pinned_build.sh
. "$here/pinned_build.sh"
if [[ -n $source_dir ]]; then
  go_toolchain "${GOTOOLCHAIN:-local}" "$source_dir"
elif [[ -n ${raise_mods:-} ]]; then
  # a raised dependency may need a newer Go than the release did: the toolchain the .mk names
  go_toolchain "${GOTOOLCHAIN:-local}"
else
  go_toolchain local
fi

# -- build (only when the build key changed) ---------------------------------------------
if [[ -n $source_dir ]]; then
  key=$(source_build_key "$source_dir" "$version")
else
  key=$(pinned_build_key "$module" "$version" "$zip_sum" "$mod_sum")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/xtdf-$tool-$version.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
trap 'exit 143' TERM INT

bin=$dist/$tool
if [[ -x $bin && "$(cat "$dist/.build-key" 2>/dev/null)" == "$key" ]]; then
  cp -p -- "$bin" "$work/$tool"
else
  echo "$tool $version: building $module with $goversion (CGO_ENABLED=0)"
  start=$SECONDS
  if [[ -n $source_dir ]]; then
    source_build "$source_dir" "$version" "$work/$tool"
  else
    pinned_build "$module" "$version" "$zip_sum" "$mod_sum" "$work" "$work/$tool"
  fi
  echo "$tool $version: built in $((SECONDS - start)) s"
fi

# -- what this build can do --------------------------------------------------------------
o=$work/$tool
strip_ansi() { sed -e 's/\x1b\[[0-9;]*m//g'; }
ver=$("$o" --version --json 2>/dev/null) || { echo "install.sh: $o --version --json failed" >&2; exit 1; }
help_enc=$("$o" help encrypt 2>&1 | strip_ansi) || { echo "install.sh: $o help encrypt failed" >&2; exit 1; }
help_dec=$("$o" help decrypt 2>&1 | strip_ansi) || { echo "install.sh: $o help decrypt failed" >&2; exit 1; }
help_key=$("$o" help policy kas-registry key create 2>&1 | strip_ansi) || help_key=
read -r sdk_version schema_version features < <("$python" -c '
import json, sys
v = json.loads(sys.argv[1])
print(v.get("sdk_version", "0.0.0"), v.get("schema_version", "0.0.0"),
      ",".join(v.get("supported_features") or []) or "-")' "$ver")
# our CLI reports the SDK its go.mod resolved: it must be the one the lane's .mk pins
[[ -z $source_dir || $sdk_version == "$version" ]] ||
  { echo "install.sh: $source_dir builds on Go SDK $sdk_version, not the pinned $version (update its go.mod)" >&2; exit 1; }

# has TEXT PATTERN [GREP FLAGS...]: 0 when TEXT matches PATTERN, else 1
has() { grep -q "${@:3}" -e "$2" <<<"$1" && echo 0 || echo 1; }
both() { [[ $1 == 0 && $2 == 0 ]] && echo 0 || echo 1; }
listed() { [[ ,$features, == *,$1,* ]] && echo 0 || echo 1; }
row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3"; }
{
  row autoconfigure 0 "always (the Go SDK splits keys by the attributes' grants)"
  row ns_grants 0 "always (the Go SDK honours namespace grants)"
  row assertions "$(has "$help_dec" with-assertion-verification-keys)" \
    "help decrypt mentions --with-assertion-verification-keys"
  row assertion_verification "$(has "$help_dec" with-assertion-verification-keys)" \
    "help decrypt mentions --with-assertion-verification-keys"
  row kasallowlist "$(has "$help_dec" kas-allowlist)" "help decrypt mentions --kas-allowlist"
  row key_management "$(at_least "$sdk_version" 0.5.1)" "sdk_version >= 0.5.1 (is $sdk_version)"
  row ecwrap "$(both "$(has "$help_enc" wrapping-key)" "$(at_least "$sdk_version" 0.3.29)")" \
    "help encrypt mentions --wrapping-key-algorithm and sdk_version >= 0.3.29 (is $sdk_version)"
  row hexless "$(at_least "$schema_version" 4.2.0)" "schema_version >= 4.2 (is $schema_version)"
  row hexaflexible "$(has "$help_enc" target-mode)" "help encrypt mentions --target-mode"
  row nano "$(has "$help_enc" 'tdf-type .*[[ ]nano[],]')" "help encrypt: --tdf-type takes nano"
  row nano_ecdsa "$(has "$help_enc" ecdsa-binding)" "help encrypt mentions --ecdsa-binding"
  row nano_policymode_plaintext "$(has "$help_enc" policy-mode)" "help encrypt mentions --policy-mode"
  row connectrpc "$(at_least "$sdk_version" 0.4.5)" "sdk_version >= 0.4.5 (is $sdk_version)"
  row better-messages-2024 "$(at_least "$sdk_version" 0.3.18)" "sdk_version >= 0.3.18 (is $sdk_version)"
  row obligations "$(at_least "$sdk_version" 0.10.0)" "sdk_version >= 0.10.0 (is $sdk_version)"
  row attribute_traversal "$(at_least "$sdk_version" 0.12.0)" "sdk_version >= 0.12.0 (is $sdk_version)"
  row mechanism-xwing "$(has "$help_key" 'hpqt:xwing' -i)" "help policy kas-registry key create mentions hpqt:xwing"
  row mechanism-secpmlkem "$(has "$help_key" 'hpqt:secp256r1-mlkem768' -i)" \
    "help policy kas-registry key create mentions hpqt:secp256r1-mlkem768"
  row mechanism-mlkem "$(has "$help_key" 'mlkem:768\|mlkem:1024' -i)" \
    "help policy kas-registry key create mentions mlkem:768 or mlkem:1024"
  row dpop "$(listed dpop)" "--version --json supported_features lists dpop"
  row dpop_nonce_challenge "$(listed dpop_nonce_challenge)" \
    "--version --json supported_features lists dpop_nonce_challenge"
} >"$work/supports.tsv"
printf '%s\n' "$ver" >"$work/version.json"
sha256sum "$o" | cut -d' ' -f1 >"$work/$tool.sha256"
sed -e "s|@VERSION@|$version|g" -e "s|@MODULE@|$module|g" -e "s|@TOOL@|$tool|g" \
  -e "s|@LANE@|$lane|g" "$here/cli.sh.in" >"$work/cli.sh"
chmod 755 "$work/cli.sh" "$o"
printf '%s\n' "$key" >"$work/.build-key"
# the adapter must answer, and refuse bad usage, before it is installed
"$work/cli.sh" supports hexless >/dev/null 2>&1 || [[ $? -le 2 ]] ||
  { echo "install.sh: generated cli.sh cannot answer supports" >&2; exit 1; }

# -- install: replace only what changed, the stamp last ----------------------------------
mkdir -p "$dist"
rm -f "$dist/.installed"
for f in "$tool" "$tool.sha256" version.json supports.tsv cli.sh .build-key; do
  if ! cmp -s -- "$work/$f" "$dist/$f"; then
    cp -p -- "$work/$f" "$dist/.$f.new"
    mv -f -- "$dist/.$f.new" "$dist/$f"
  fi
done
touch "$dist/.installed"
echo "$tool $version: $dist/cli.sh"
