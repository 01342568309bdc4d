# Sourced by sdk/go/install.sh (otdfctl) and platform/go/install.sh (the Go platform): how
# the project builds an upstream Go command from the module proxy at a pinned release.
#
# `go install MODULE@vVERSION` cannot be used here: it asks the proxy for the module's
# version list (its deprecation check), which the proxy refuses. So the build runs in a
# throwaway module that requires MODULE@vVERSION, so `go` resolves exactly the module's own
# dependency graph. The checksum database cannot vouch for these releases here, so the
# throwaway go.sum holds the pinned checksums of the module itself (go refuses a download
# that does not match them) plus the module's own go.sum for every dependency.
# CGO_ENABLED=0, -trimpath, GOTOOLCHAIN=local (no toolchain downloads).
#
# The caller defines skip REASON (one line; exit 0, or 1 under CI=true) and python, then
# calls go_toolchain (sets goversion) and pinned_build. A caller that sets raise_mods
# ("MODULE@vX.Y.Z ...") and raise_sums (a go.sum file) builds the release with those
# dependencies raised: the throwaway module requires them too, so the go command's minimal
# version selection takes them, and raise_sums vouches for every module they bring in.

# go_toolchain TOOLCHAIN [DIR]: a usable go on PATH, or skip; sets goversion. TOOLCHAIN is
# local (never download one) or the goX.Y.Z a module in DIR needs (fetched from the proxy once)
go_toolchain() {
  command -v go >/dev/null 2>&1 || skip "no \`go\` on PATH"
  export GOTOOLCHAIN=${1:-local}
  goversion=$(cd -- "${2:-.}" && go env GOVERSION 2>/dev/null) ||
    skip "\`go env GOVERSION\` failed with GOTOOLCHAIN=$GOTOOLCHAIN (is that toolchain served?)"
  [[ $goversion =~ ^go[0-9]+\.[0-9]+ ]] || skip "cannot read the Go version '$goversion'"
}

# at_least VERSION MIN: numeric comparison of MAJOR.MINOR.PATCH (missing parts are 0)
at_least() {
  local a b c x y z
  IFS=. read -r a b c <<<"${1#v}"
  IFS=. read -r x y z <<<"$2"
  a=${a:-0} b=${b:-0} c=${c%%[!0-9]*} c=${c:-0}
  ((a > x || (a == x && (b > y || (b == y && c >= ${z:-0}))))) && echo 0 || echo 1
}

pinned_buildflags="-trimpath -ldflags=-buildid="

# pinned_build_key MODULE VERSION ZIP_SUM GOMOD_SUM: what a build depends on, as one digest
pinned_build_key() {
  {
    printf '%s\n' "$1@v$2" "$3" "$4" "$goversion" "$(go env GOOS)/$(go env GOARCH)" \
      "CGO_ENABLED=0 $pinned_buildflags"
    [[ -z ${raise_mods:-} ]] || { echo "raise $raise_mods" && sha256sum <"$raise_sums"; }
  } | sha256sum | cut -d' ' -f1
}

# source_build_key DIR VERSION: what a build of our own module in DIR depends on, as one digest
source_build_key() {
  {
    printf '%s\n' "$2" "$goversion" "$(go env GOOS)/$(go env GOARCH)" "CGO_ENABLED=0 $pinned_buildflags"
    (cd -- "$1" && find . -maxdepth 1 \( -name '*.go' -o -name go.mod -o -name go.sum \) -type f |
      LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -d' ' -f1
}

# source_build DIR VERSION OUT: build our own module in DIR (its go.sum vouches for every
# module, -mod=readonly) into OUT; exits 1 with one line on any failure
source_build() {
  # shellcheck disable=SC2086 # the flags are words
  (cd -- "$1" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build $pinned_buildflags -o "$3" .) || {
    echo "install.sh: go build of $1 (Go SDK $2) failed (see above)" >&2
    exit 1
  }
}

# pinned_build MODULE VERSION ZIP_SUM GOMOD_SUM WORK OUT: build MODULE's main package at
# vVERSION into OUT, in the empty directory WORK; exits 1 with one line on any failure
pinned_build() {
  local module=$1 version=$2 zip_sum=$3 mod_sum=$4 work=$5 out=$6
  local info got_sum got_mod_sum moddir want_go
  export CGO_ENABLED=0 GOFLAGS=-mod=mod GONOSUMDB=$module
  # download outside any module (so nothing resolves the dependency graph yet), then check
  # the module's checksums against the pins before anything of it is used
  mkdir "$work/dl" "$work/mod"
  info=$(cd "$work/dl" && GO111MODULE=on go mod download -json "$module@v$version") || {
    echo "install.sh: could not download $module@v$version (see above)" >&2
    exit 1
  }
  read -r got_sum got_mod_sum moddir < <("$python" -c '
import json, sys
d = json.load(sys.stdin)
print(d.get("Sum", "-"), d.get("GoModSum", "-"), d.get("Dir", "-"))' <<<"$info")
  if [[ $got_sum != "$zip_sum" || $got_mod_sum != "$mod_sum" ]]; then
    echo "install.sh: $module@v$version checksum mismatch: got $got_sum $got_mod_sum, pinned $zip_sum $mod_sum" >&2
    exit 1
  fi
  [[ -f $moddir/go.sum ]] || { echo "install.sh: $module@v$version has no go.sum ($moddir)" >&2; exit 1; }
  # the Go release the module asks for (its go.mod's go line), and it for the throwaway module
  want_go=$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' "$moddir/go.mod")
  [[ $want_go =~ ^[0-9]+\.[0-9]+ ]] || { echo "install.sh: no go line in $moddir/go.mod" >&2; exit 1; }
  [[ $(at_least "${goversion#go}" "$want_go") == 0 ]] ||
    skip "$goversion is older than the go $want_go that $module@v$version needs"
  # raised dependencies may ask for a newer go line than the release's: the toolchain's own
  [[ -z ${raise_mods:-} ]] || want_go=${goversion#go}
  {
    printf 'module xtdf.local/pinned-build\n\ngo %s\n\nrequire %s v%s\n' "$want_go" "$module" "$version"
    local r
    for r in ${raise_mods:-}; do printf 'require %s %s\n' "${r%@*}" "${r##*@}"; done
  } >"$work/mod/go.mod"
  printf '%s v%s %s\n%s v%s/go.mod %s\n' \
    "$module" "$version" "$zip_sum" "$module" "$version" "$mod_sum" >"$work/mod/go.sum"
  cat -- "$moddir/go.sum" >>"$work/mod/go.sum"
  [[ -z ${raise_mods:-} ]] || cat -- "$raise_sums" >>"$work/mod/go.sum"
  # shellcheck disable=SC2086 # the flags are words
  (cd "$work/mod" && go build $pinned_buildflags -o "$out" "$module") || {
    echo "install.sh: go build of $module@v$version failed (see above)" >&2
    exit 1
  }
  # a raise the release already exceeds would be silently ignored: the binary must hold each
  local deps
  deps=$(go version -m "$out") || { echo "install.sh: go version -m $out failed" >&2; exit 1; }
  for r in ${raise_mods:-}; do
    grep -qE "^[[:space:]]+dep[[:space:]]+${r%@*}[[:space:]]+${r##*@}[[:space:]]" <<<"$deps" || {
      echo "install.sh: $module@v$version was built without $r (raise it to the release it takes, or drop it)" >&2
      exit 1
    }
  done
}
