#!/usr/bin/env bash
# Builds the Debian package of pgsql-ra (issue 15) and checks it with lintian.
#
#   bash scripts/build-deb.sh        -> prints the path of the .deb (last line)
#
# The tool is debhelper (Debian's own, from the archive: nothing to compile, no
# registry beyond Debian's), driving the top-level Makefile, so that `make
# install` for other distributions and the .deb install the same files. The
# .deb lands in $CARGO_TARGET_DIR/debian (default target/debian). The build
# fails when an installed Markdown guide is compressed or has a relative link to
# a file the package lacks, and on any lintian error or warning.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS="debhelper lintian xsltproc git man-db python3"
if ! dpkg -s $PKGS >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PKGS
fi
command -v cargo >/dev/null || { echo "cargo (Rust toolchain) is required" >&2; exit 1; }

# One version: Cargo's (workspace.package) and debian/changelog's must agree.
cargo_v=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
deb_v=$(dpkg-parsechangelog -S Version)
if [ "$cargo_v" != "$deb_v" ]; then
  echo "version mismatch: Cargo.toml $cargo_v, debian/changelog $deb_v (add a changelog entry: dch -v $cargo_v)" >&2
  exit 1
fi

out=${CARGO_TARGET_DIR:-$PWD/target}/debian
rm -f "$out"/pgsql-ra_*.deb
# debian/rules directly rather than dpkg-buildpackage: no .changes/.buildinfo in the
# parent directory of the clone; -d equivalent: cargo is rustup's, not a Build-Depends.
debian/rules clean
debian/rules build
debian/rules binary
deb=$(ls "$out"/pgsql-ra_"$deb_v"_*.deb)
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "$deb"

# The installed guides: Markdown left uncompressed, every relative link resolving in the
# package, THIRD-PARTY-LICENSES where debian/copyright says (scripts/check-installed-docs.sh).
echo "== installed docs: uncompressed, relative links resolve"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
bash scripts/check-installed-docs.sh "$root"

echo "== lintian $deb"
# Root runs it in CI (as everything else); errors and warnings fail, infos are shown.
lintian_rc=0
lintian --allow-root --fail-on error,warning --display-info "$deb" > "$out/lintian.txt" || lintian_rc=$?
cat "$out/lintian.txt"
echo "lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors, $(grep -c '^W:' "$out/lintian.txt" || true) warnings, $(grep -c '^I:' "$out/lintian.txt" || true) infos"
[ "$lintian_rc" -eq 0 ] || { echo "lintian failed (exit $lintian_rc)" >&2; exit 1; }
echo "$deb"
