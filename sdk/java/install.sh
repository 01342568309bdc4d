#!/usr/bin/env bash
# Build xtdf's command line for the OpenTDF Java SDK VERSION (io.opentdf.platform:sdk from
# Maven Central) into sdk/java/dist/VERSION/: one shaded cmdline.jar, its sha256, a class data
# sharing archive made by a training run, supports.tsv (from the jar's --version and help),
# and cli.sh (the adapter) generated from cli.sh.in. Called by sdk/java/java.mk.
#   usage: install.sh VERSION
#   JAVA_HOME / MVN       the JDK and Maven to use (default: java and mvn on PATH)
#   XTDF_JAVA_CDS=0       no class data sharing archive (to measure what it saves)
set -euo pipefail
here=$(cd -- "$(dirname -- "$0")" && pwd)
version=${1:?usage: install.sh VERSION}
dist=$here/dist/$version
java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java
java_bin=$(command -v "$java_bin") || { echo "install.sh: no java" >&2; exit 2; }
mvn=${MVN:-mvn}

# The TDF layout a release writes: hex-encoded hashes (spec 4.2.2) until 0.7.5 dropped the
# extra hex layer (opentdf/java-sdk "remove hex encoding", #213); hexless 4.3.0 from then on.
IFS=. read -r ma mi pa <<<"$version"
if ((ma == 0 && (mi < 7 || (mi == 7 && ${pa%%[!0-9]*} < 5)))); then spec=4.2.2; else spec=4.3.0; fi

mkdir -p "$dist"
rm -f "$dist/.installed"

echo "java sdk $version: mvn package (xtdf-java-cli, spec $spec)"
"$mvn" -B -q -f "$here/pom.xml" -Dopentdf.sdk.version="$version" -Dtdf.spec.version="$spec" \
  package
built=$here/target/$version/xtdf-java-cli-$version.jar
jar=$dist/cmdline.jar
# Replace the jar only when its content changes, so a rebuild from the same sources keeps
# the cache fingerprint (size + mtime of dist/) and the archive valid. The shade plugin does
# not always write the entries in the same order, so "same content" is a digest of the
# sorted (name, CRC-32, size) of every entry; cmdline.jar.sha256 is the installed jar's sha256.
content() {
  "${PYTHON:-python3}" -c 'import hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
rows = sorted(f"{i.filename}\0{i.CRC}\0{i.file_size}" for i in z.infolist())
print(hashlib.sha256("\n".join(rows).encode()).hexdigest())' "$1"
}
want=$(content "$built")
if [[ ! -f $jar || "$(cat "$dist/cmdline.jar.content" 2>/dev/null)" != "$want" ]]; then
  cp -f "$built" "$jar.tmp"
  mv -f "$jar.tmp" "$jar"
  sha256sum "$jar" | cut -d' ' -f1 >"$dist/cmdline.jar.sha256"
  echo "$want" >"$dist/cmdline.jar.content"
  rm -f "$dist/cmdline.jsa"
fi
sum=$(cat "$dist/cmdline.jar.sha256")

# Class data sharing: a dynamic AppCDS archive of the classes a call loads, dumped at the
# exit of a training run (the jar's hidden xtdf-train command; no network). The JVM maps it
# instead of parsing and verifying those classes again (docs/compat.md, "Java lane").
jvm_opts=(-XX:+UseSerialGC -Xshare:auto -Xlog:disable -Xlog:all=error:stderr)
# The archive names the jar by its absolute path and mtime: a moved or copied dist/ still
# works, without the archive (the JVM then quietly loads the classes from the jar).
if [[ ${XTDF_JAVA_CDS:-1} != 0 ]]; then
  jsa=$dist/cmdline.jsa
  stamp="$("$java_bin" -version 2>&1 | tr '\n' ' ') $sum"
  if [[ ! -f $jsa || "$(cat "$dist/cmdline.jsa.for" 2>/dev/null)" != "$stamp" ]]; then
    rm -f "$jsa"
    "$java_bin" -XX:ArchiveClassesAtExit="$jsa.tmp" "${jvm_opts[@]}" -jar "$jar" xtdf-train >/dev/null
    mv -f "$jsa.tmp" "$jsa"
    echo "$stamp" >"$dist/cmdline.jsa.for"
  fi
  cds=1
else
  cds=0
  rm -f "$dist/cmdline.jsa" "$dist/cmdline.jsa.for"
fi

cds_opt=()
((cds)) && cds_opt=(-XX:SharedArchiveFile="$jsa")
run() { "$java_bin" "${jvm_opts[@]}" "${cds_opt[@]}" -jar "$jar" "$@"; }
ver=$(run --version)
printf '%s\n' "$ver" >"$dist/version.json"
{
  run help
  for c in encrypt decrypt encryptnano decryptnano; do run help "$c"; done
} >"$dist/help.txt"
# flags of each command, as cli.sh checks them: "--file --kas-url ..."
flags() { run help "$1" | grep -oE '(^|[ ,])--[a-z][a-z0-9-]*' | tr -d ' ,' | sort -u | tr '\n' ' '; }
f_enc=$(flags encrypt) f_dec=$(flags decrypt) f_encn=$(flags encryptnano) f_decn=$(flags decryptnano)
has() { [[ " $1 " == *" $2 "* ]] && echo 0 || echo 1; }
# at least VERSION (major.minor.patch)?
atleast() {
  local a b c x y z
  IFS=. read -r a b c <<<"$version"
  IFS=. read -r x y z <<<"$1"
  ((a > x || (a == x && (b > y || (b == y && ${c%%[!0-9]*} >= z))))) && echo 0 || echo 1
}
hexless=1
IFS=. read -r sa sb _ <<<"$spec"
((sa > 4 || (sa == 4 && sb >= 3))) && hexless=0
ecwrap=1
[[ $(has "$f_enc" --encap-key-type) == 0 && $(atleast 0.7.7) == 0 ]] && ecwrap=0
nano=1
run help | grep -q '^ *encryptnano ' && nano=0
{
  # upstream's xtest/sdk/java/cli.sh answers these two yes for every release
  printf 'autoconfigure\t0\tas upstream: every release splits keys by attribute grants\n'
  printf 'ns_grants\t0\tas upstream: every release splits keys by attribute grants\n'
  printf 'assertions\t%s\thelp encrypt lists --with-assertions\n' "$(has "$f_enc" --with-assertions)"
  # the suite's assertion test also decrypts with verification off, which needs the flag
  av=1
  [[ $(has "$f_dec" --with-assertion-verification-keys) == 0 &&
    $(has "$f_dec" --with-assertion-verification-disabled) == 0 ]] && av=0
  printf 'assertion_verification\t%s\thelp decrypt lists --with-assertion-verification-keys and --with-assertion-verification-disabled\n' "$av"
  printf 'kasallowlist\t%s\thelp decrypt lists --kas-allowlist\n' "$(has "$f_dec" --kas-allowlist)"
  printf 'key_management\t%s\tversion >= 0.10.0 (is %s)\n' "$(atleast 0.10.0)" "$version"
  printf 'ecwrap\t%s\thelp encrypt lists --encap-key-type and version >= 0.7.7 (new EC salt)\n' "$ecwrap"
  printf 'hexless\t%s\t--version tdfSpecVersion >= 4.3.0 (is %s)\n' "$hexless" "$spec"
  printf 'hexaflexible\t%s\thelp encrypt lists --with-target-mode\n' "$(has "$f_enc" --with-target-mode)"
  printf 'attribute_traversal\t1\tas upstream\n'
  printf 'connectrpc\t%s\tversion >= 0.8.0 (gRPC before: opentdf/java-sdk #244)\n' "$(atleast 0.8.0)"
  printf 'nano\t%s\thelp lists encryptnano\n' "$nano"
  printf 'nano_ecdsa\t%s\thelp encryptnano lists --ecdsa-binding\n' "$(has "$f_encn" --ecdsa-binding)"
  printf 'nano_policymode_plaintext\t%s\thelp encryptnano lists --policy-type\n' "$(has "$f_encn" --policy-type)"
  printf 'mechanism-rsa-4096\t%s\tversion >= 0.13.0\n' "$(atleast 0.13.0)"
  printf 'mechanism-ec-curves-384-521\t%s\tversion >= 0.13.0\n' "$(atleast 0.13.0)"
} >"$dist/supports.tsv"

sed -e "s|@VERSION@|$version|g" -e "s|@SPEC@|$spec|g" -e "s|@JAVA@|$java_bin|g" \
  -e "s|@JVM_OPTS@|${jvm_opts[*]}|g" -e "s|@CDS@|$cds|g" \
  -e "s|@FLAGS_ENCRYPT@|$f_enc|g" -e "s|@FLAGS_DECRYPT@|$f_dec|g" \
  -e "s|@FLAGS_ENCRYPTNANO@|$f_encn|g" -e "s|@FLAGS_DECRYPTNANO@|$f_decn|g" \
  "$here/cli.sh.in" >"$dist/cli.sh.tmp"
chmod 755 "$dist/cli.sh.tmp"
if cmp -s "$dist/cli.sh.tmp" "$dist/cli.sh"; then rm -f "$dist/cli.sh.tmp"; else mv -f "$dist/cli.sh.tmp" "$dist/cli.sh"; fi
"$dist/cli.sh" supports hexless >/dev/null 2>&1 || { rc=$?; [[ $rc -le 2 ]] || { echo "install.sh: $dist/cli.sh supports failed ($rc)" >&2; exit 1; }; }
touch "$dist/.installed"
echo "java sdk $version: $dist/cli.sh"
