#!/usr/bin/env python3
"""Writes THIRD-PARTY-LICENSES: the licence texts of every crate compiled into
the pgsql-ra binary (issue 15).

    python3 scripts/third-party-licenses.py OUTPUT
    python3 scripts/third-party-licenses.py --list     (the crates, one a line)

The crates are the release dependency graph of pgsql-ra-ocf for this machine's
target, as cargo resolves it from Cargo.lock: `cargo tree -e normal -p
pgsql-ra-ocf --offline --locked` (normal dependencies, procedural macros
included since the code they generate is compiled in; build scripts' and
tests' dependencies are not in the binary). Each crate's source is the copy
the build unpacked, $CARGO_HOME/registry/src/*/<name>-<version>/, and its
declared licence and authors are read from its Cargo.toml there. No network:
not `cargo metadata`, which wants every package of Cargo.lock, those of other
platforms and the tests' included, on the machine. Crates from git or from a
path outside the workspace are refused (none at this version).

For each crate the file gives its name, version, the SPDX expression of its
Cargo.toml ("license ="), its authors, and the text of every licence file in
its source directory (LICENSE*, LICENCE*, COPYING*, COPYRIGHT*, NOTICE*,
UNICODE*). A text already given for an earlier crate, byte for byte, is named
rather than repeated. A crate without any such file gets the standard text of
its licence from licenses/ (MIT, Apache-2.0), and the header names it.

Needs Python 3.11 (tomllib; Debian 12's python3) and cargo.

Exits 1 (and writes nothing) when a crate's licence cannot be satisfied from
ALLOWED (permissive licences that GPL-3.0-or-later code may link, see
debian/copyright), when a crate declares no SPDX expression, or when a crate
without a licence file has no standard text here.
"""

import glob
import hashlib
import os
import re
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "pgsql-ra-ocf"
# SPDX identifiers accepted for linked crates: all permissive and compatible
# with distributing the binary under GPL-3.0-or-later (debian/copyright).
ALLOWED = {
    "MIT",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "0BSD",
    "BSL-1.0",
    "Unlicense",
}
LICENSE_FILE = re.compile(r"^(LICEN[CS]E|COPYING|COPYRIGHT|NOTICE|UNICODE)", re.I)
CARGO_FLAGS = ["--offline", "--locked"]


class Refused(Exception):
    """A crate whose licence the build does not accept."""


def cargo(*args):
    out = subprocess.run(
        ["cargo", *args, *CARGO_FLAGS],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        timeout=300,
    )
    return out.stdout.decode()


def graph():
    """(name, version, origin) of every crate in the release graph; origin is
    "registry", "proc-macro" (a registry crate), "workspace" (a path inside
    this repository) or the text cargo tree gives for anything else."""
    text = cargo(
        "tree", "-e", "normal", "-p", PACKAGE, "--prefix", "none", "-f", "{p}"
    )
    crates = set()
    for line in text.splitlines():
        line = line.removesuffix(" (*)").strip()
        if not line:
            continue
        m = re.match(r"^(\S+) v(\S+)(?: \((.*)\))?$", line)
        if not m:
            raise SystemExit(f"cannot read cargo tree line: {line!r}")
        name, version, extra = m.groups()
        if extra is None:
            origin = "registry"
        elif extra == "proc-macro":
            origin = "proc-macro"
        elif os.path.abspath(extra).startswith(ROOT + os.sep):
            origin = "workspace"
        else:
            origin = extra
        crates.add((name, version, origin))
    return crates


def cargo_home():
    return os.environ.get("CARGO_HOME") or os.path.join(os.path.expanduser("~"), ".cargo")


def crate_source(name, version):
    """The unpacked registry source of a crate, or None."""
    pattern = os.path.join(cargo_home(), "registry", "src", "*", f"{name}-{version}")
    found = sorted(d for d in glob.glob(pattern) if os.path.isfile(os.path.join(d, "Cargo.toml")))
    return found[0] if found else None


def crate_manifest(src):
    """The [package] table of a crate's (published, normalised) Cargo.toml."""
    with open(os.path.join(src, "Cargo.toml"), "rb") as fh:
        return tomllib.load(fh).get("package", {})


def tokens(expr):
    # Old crates write "MIT/Apache-2.0" for "MIT OR Apache-2.0".
    expr = expr.replace("/", " OR ")
    return re.findall(r"\(|\)|[^\s()]+", expr)


def satisfiable(expr):
    """Whether the SPDX expression can be met with ALLOWED licences only
    (OR: one side suffices, AND: both are needed; WITH binds to its id)."""
    toks = tokens(expr)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def atom():
        if peek() == "(":
            take()
            v = disj()
            if take() != ")":
                raise Refused(f"unbalanced parentheses in {expr!r}")
            return v
        tok = take()
        if tok is None or tok in ("AND", "OR", "WITH", ")"):
            raise Refused(f"malformed licence expression {expr!r}")
        if peek() == "WITH":
            take()
            tok = f"{tok} WITH {take()}"
        return tok.removesuffix("+") in ALLOWED or tok in ALLOWED

    def conj():
        v = atom()
        while peek() == "AND":
            take()
            v = atom() and v
        return v

    def disj():
        v = conj()
        while peek() == "OR":
            take()
            v = conj() or v
        return v

    try:
        value = disj()
    except IndexError:
        raise Refused(f"malformed licence expression {expr!r}") from None
    if pos != len(toks):
        raise Refused(f"malformed licence expression {expr!r}")
    return value


def ids(expr):
    return [t for t in tokens(expr) if t not in ("(", ")", "AND", "OR", "WITH")]


def collect():
    entries = []
    refused = []
    for name, version, origin in sorted(graph()):
        if origin == "workspace":
            continue  # pgsql-ra's own crates: LICENSE, debian/copyright
        if origin not in ("registry", "proc-macro"):
            refused.append(f"{name} {version}: from {origin}, not a registry: not supported")
            continue
        src = crate_source(name, version)
        if src is None:
            refused.append(
                f"{name} {version}: no unpacked source under {cargo_home()}/registry/src "
                "(build first: make build)"
            )
            continue
        pkg = crate_manifest(src)
        expr = pkg.get("license")
        if not isinstance(expr, str) or not expr.strip():
            refused.append(f"{name} {version}: no SPDX licence expression (license-file only)")
            continue
        try:
            if not satisfiable(expr):
                refused.append(f"{name} {version}: {expr} is not in the allowed set")
                continue
        except Refused as e:
            refused.append(f"{name} {version}: {e}")
            continue
        files = sorted(
            f for f in os.listdir(src)
            if LICENSE_FILE.match(f) and os.path.isfile(os.path.join(src, f))
        )
        texts = []
        standard = False
        for f in files:
            with open(os.path.join(src, f), "rb") as fh:
                texts.append((f"{name}-{version}/{f}", fh.read()))
        if not texts:
            standard = True
            for spdx in ids(expr):
                path = os.path.join(ROOT, "licenses", spdx)
                if spdx in ALLOWED and os.path.isfile(path):
                    with open(path, "rb") as fh:
                        texts.append((f"licenses/{spdx} (standard text)", fh.read()))
            if not texts:
                refused.append(
                    f"{name} {version}: no licence file in {src} and no standard text "
                    f"in licenses/ for {expr}"
                )
                continue
        authors = pkg.get("authors")
        entries.append({
            "name": name,
            "version": version,
            "license": expr,
            "authors": [a for a in authors if isinstance(a, str)] if isinstance(authors, list) else [],
            "proc_macro": origin == "proc-macro",
            "standard": standard,
            "texts": texts,
        })
    if refused:
        raise Refused("\n".join(refused))
    return entries


def own_version():
    """The workspace's version (Cargo.toml, [workspace.package])."""
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as fh:
        return tomllib.load(fh)["workspace"]["package"]["version"]


def render(entries):
    version = own_version()
    standard = [f"{e['name']} {e['version']}" for e in entries if e["standard"]]
    out = []
    w = out.append
    w(f"Third-party licences of pgsql-ra {version}\n")
    w("\n")
    w("The pgsql-ra binary (/usr/lib/ocf/resource.d/pgsql-ra/pgsql) is built from\n")
    w("pgsql-ra's own code (GPL-2.0-or-later, see copyright) and the Rust crates\n")
    w(f"below, {len(entries)} of them: the crates of its release dependency graph\n")
    w("as Cargo.lock resolves it (cargo tree -e normal -p pgsql-ra-ocf), linked\n")
    w("statically. Procedural macros run at build time; the code they generate is\n")
    w("compiled in, so they are listed too. For each crate: the licence its\n")
    w("Cargo.toml declares (SPDX expression), its authors, and the licence files\n")
    w("of its published source. A text already given above, byte for byte, is\n")
    w("named instead of repeated.\n")
    w("\n")
    w("Crates without a licence file in their source, given the standard text of\n")
    w("their licence instead: " + (", ".join(standard) if standard else "none") + ".\n")
    w("\n")
    w("Generated by scripts/third-party-licenses.py.\n")
    seen = {}
    for e in entries:
        w("\n" + "=" * 78 + "\n")
        kind = " (procedural macro)" if e["proc_macro"] else ""
        w(f"Crate: {e['name']} {e['version']}{kind}\n")
        w(f"License: {e['license']}\n")
        if e["authors"]:
            w(f"Authors: {', '.join(e['authors'])}\n")
        w(f"Source: https://crates.io/crates/{e['name']}/{e['version']}\n")
        for label, data in e["texts"]:
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                w(f"\n--- {label}: the same text as {seen[digest]} above\n")
                continue
            seen[digest] = label
            w(f"\n--- {label}\n\n")
            text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
            w(text if text.endswith("\n") else text + "\n")
    return "".join(out)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        entries = collect()
    except Refused as e:
        print("third-party-licenses: refused:\n" + str(e), file=sys.stderr)
        return 1
    if argv[1] == "--list":
        for e in entries:
            print(f"{e['name']} {e['version']}")
        return 0
    text = render(entries)
    tmp = argv[1] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, argv[1])
    print(f"third-party-licenses: {len(entries)} crates -> {argv[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
