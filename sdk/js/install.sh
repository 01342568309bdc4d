#!/usr/bin/env bash
# Install @opentdf/cli + @opentdf/client, pinned by package-lock.json, into
# sdk/js/dist/VERSION/ with `npm ci`, and generate cli.sh (the adapter) from cli.sh.in.
# `supports` answers are derived here, once, from the installed CLI's --help and --version
# (the probes upstream's xtest/sdk/js/cli.sh runs on every call) and kept in supports.tsv.
# Idempotent: node_modules is reinstalled only when the lock file changes.
#   usage: install.sh VERSION      (VERSION must be the @opentdf/cli version in package.json)
set -euo pipefail
here=$(cd -- "$(dirname -- "$0")" && pwd)
version=${1:?usage: install.sh VERSION}
pinned=$(node -p 'require(process.argv[1]).dependencies["@opentdf/cli"]' "$here/package.json")
[[ $pinned == "$version" ]] || { echo "install.sh: package.json pins @opentdf/cli $pinned, not $version" >&2; exit 2; }
dist=$here/dist/$version
mkdir -p "$dist"
rm -f "$dist/.installed"

want=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)
bin=$dist/node_modules/@opentdf/cli/bin/opentdf.mjs
if [[ ! -f $bin || "$(cat "$dist/.xtdf-lock" 2>/dev/null)" != "$want" ]]; then
  echo "@opentdf/cli $version: npm ci in $dist"
  cp "$here/package.json" "$here/package-lock.json" "$dist/"
  (cd "$dist" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$dist/.xtdf-lock"
fi

help=$(node "$bin" --help 2>/dev/null)
ver=$(node "$bin" --version 2>/dev/null)
printf '%s\n' "$help" >"$dist/help.txt"
printf '%s\n' "$ver" >"$dist/version.json"
has() { grep -q "$@" <<<"$help" && echo 0 || echo 1; }
# numbers from --version: major of the client, tdfSpecVersion (absent in older releases)
read -r client_major spec < <(node -e '
  const v = JSON.parse(process.argv[1]);
  const c = v["@opentdf/sdk"] || v["@opentdf/client"] || "0";
  console.log(parseInt(c, 10) || 0, v.tdfSpecVersion || "none");' "$ver")
hexless=1
if [[ $spec != none ]]; then
  IFS=. read -r a b _ <<<"$spec"
  ((a > 4 || (a == 4 && b >= 3))) && hexless=0
fi
ecwrap=1
[[ $(has -e encapKeyType) == 0 ]] && ((client_major > 2)) && ecwrap=0
nano=1
grep -q 'choices:.*"nano"' <<<"$help" && nano=0
{
  printf 'assertions\t%s\t--help mentions --assertions\n' "$(has -- --assertions)"
  printf 'assertion_verification\t%s\t--help mentions assertionVerificationKeys\n' "$(has -e assertionVerificationKeys)"
  printf 'autoconfigure\t%s\t--help mentions autoconfigure\n' "$(has -e autoconfigure)"
  printf 'ns_grants\t%s\t--help mentions autoconfigure\n' "$(has -e autoconfigure)"
  printf 'ecwrap\t%s\t--help mentions encapKeyType and client major > 2 (is %s)\n' "$ecwrap" "$client_major"
  printf 'hexless\t%s\t--version tdfSpecVersion >= 4.3.0 (is %s)\n' "$hexless" "$spec"
  printf 'nano_ecdsa\t%s\t--help mentions policyBinding\n' "$(has -e policyBinding)"
  printf 'nano\t%s\t--containerType choices include nano\n' "$nano"
  printf 'kasallowlist\t%s\t--help mentions allowList\n' "$(has -i -e allowlist)"
} >"$dist/supports.tsv"

sed -e "s/@VERSION@/$version/g" "$here/cli.sh.in" >"$dist/cli.sh.tmp"
chmod 755 "$dist/cli.sh.tmp"
mv -f "$dist/cli.sh.tmp" "$dist/cli.sh"
touch "$dist/.installed"
echo "@opentdf/cli $version: $dist/cli.sh"
