#!/usr/bin/env bash
# Tests scripts/third-party-licenses.py (issue 15), run by scripts/test.sh:
#  1. THIRD-PARTY-LICENSES names every crate of the release graph of
#     pgsql-ra-ocf, each once, with a licence text, the graph listed here
#     independently (cargo tree, one crate a line, workspace crates left out);
#  2. the licence check refuses what it must (a GPL-only or unknown licence,
#     an AND with one), accepts the forms the crates use;
#  3. a crate without a licence file gets the standard text from licenses/,
#     only for ids there, and the header names it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

python3 scripts/third-party-licenses.py "$tmp/THIRD-PARTY-LICENSES"
out=$tmp/THIRD-PARTY-LICENSES

# 1. Every crate of the graph, from cargo itself, and nothing else.
cargo tree -e normal -p pgsql-ra-ocf --prefix none -f '{p}' --offline --locked |
  grep -v ' (/' | sed -E 's/ \(\*\)$//; s/ \(proc-macro\)$//; s/^(\S+) v(\S+)$/\1 \2/' |
  sort -u > "$tmp/graph"
sed -n 's/^Crate: \(\S*\) \(\S*\).*/\1 \2/p' "$out" | sort > "$tmp/listed"
[ -s "$tmp/graph" ] || fail "cargo tree listed no crate"
if ! diff -u "$tmp/graph" "$tmp/listed"; then
  fail "THIRD-PARTY-LICENSES does not list exactly the crates of the graph (- graph, + file)"
fi
dups=$(uniq -d "$tmp/listed")
[ -z "$dups" ] || fail "listed twice: $dups"
n=$(wc -l < "$tmp/graph")
# Each crate section has a License: line and at least one text (or a reference to one).
awk '/^Crate: /{if (c && !t) {print c; bad=1} c=$0; t=0}
     /^--- /{t=1}
     END{if (c && !t) {print c; bad=1} exit bad}' "$out" ||
  fail "crates above have no licence text"
[ "$(grep -c '^License: ' "$out")" -eq "$n" ] || fail "not one License: line per crate"
grep -q 'Apache License' "$out" || fail "no Apache-2.0 text"
grep -q 'Permission is hereby granted' "$out" || fail "no MIT text"
grep -q 'UNICODE' "$out" || fail "no Unicode licence text (unicode-normalization)"
echo "ok: $n crates listed, each with a licence text"

# 2 and 3: the licence check and the fallback, on the script's own functions.
python3 - "$tmp" <<'EOF'
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("tpl", "scripts/third-party-licenses.py")
tpl = importlib.util.module_from_spec(spec); spec.loader.exec_module(tpl)
ok = {
    "MIT": True, "MIT/Apache-2.0": True, "(MIT OR Apache-2.0) AND Unicode-3.0": True,
    "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT": True,
    "Unlicense OR MIT": True, "MIT OR GPL-3.0-only": True,
    "GPL-3.0-only": False, "MIT AND GPL-2.0-only": False, "SSPL-1.0": False,
    "(MIT OR Apache-2.0) AND Commons-Clause": False,
    "Apache-2.0 WITH Foo-exception": False,
}
for expr, want in ok.items():
    got = tpl.satisfiable(expr)
    assert got == want, f"satisfiable({expr!r}) = {got}, want {want}"
for bad in ["MIT OR", "(MIT", "MIT)", "AND MIT", ""]:
    try:
        tpl.satisfiable(bad)
    except tpl.Refused:
        continue
    raise AssertionError(f"{bad!r} accepted")
print(f"ok: licence check, {len(ok)} expressions and 5 malformed ones")

# No crate has a licence file: every one gets licenses/ texts and is named.
tpl.LICENSE_FILE = __import__("re").compile(r"^$")
entries = tpl.collect()
assert entries and all(e["standard"] for e in entries)
for e in entries:
    labels = [l for l, _ in e["texts"]]
    want = [f"licenses/{i} (standard text)" for i in tpl.ids(e["license"])
            if i in tpl.ALLOWED and os.path.isfile(f"licenses/{i}")]
    assert labels == want, (e["name"], labels, want)
text = tpl.render(entries)
head = text.split("=" * 78)[0]
for e in entries:
    assert f"{e['name']} {e['version']}" in head, e["name"]
print(f"ok: fallback to licenses/ for {len(entries)} crates, named in the header")

# A crate whose licence is not allowed is refused; so is one without a licence
# file whose licences have no standard text here (licence files still ignored).
tpl.ALLOWED = tpl.ALLOWED | {"Zlib-only-test"}
real_manifest = tpl.crate_manifest
for licence, reason in [("Zlib-only-test", "no standard text"),
                        ("GPL-3.0-only", "not in the allowed set"),
                        (None, "no SPDX licence expression")]:
    def fake_manifest(src, licence=licence):
        pkg = dict(real_manifest(src))
        if os.path.basename(src).startswith("bytes-"):
            pkg["license"] = licence
        return pkg
    tpl.crate_manifest = fake_manifest
    try:
        tpl.collect()
    except tpl.Refused as e:
        assert "bytes" in str(e) and reason in str(e), str(e)
        print(f"ok: bytes under {licence} is refused ({reason})")
    else:
        raise AssertionError(f"bytes under {licence} accepted")
EOF
