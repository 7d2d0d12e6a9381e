#!/usr/bin/env bash
# Fails when the pure core (crates/pgsql-ra-core/src) uses I/O, processes,
# the network, the environment or a clock directly: those go through ports/.
# memory/ and sim/ (compiled only with the feature `sim`) are scanned too:
# the simulator must stay as deterministic as the core it drives.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='std::(process|fs|net|env)\b|thread::sleep|Instant::now|SystemTime|Utc::now|Local::now|std::io::(stdin|stdout|stderr)|println!|eprintln!'
if hits=$(grep -rnE "$pattern" crates/pgsql-ra-core/src | grep -vE '^[^:]+:[0-9]+:\s*//'); then
  echo "the core must stay pure; found:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "core purity: ok ($(find crates/pgsql-ra-core/src -name '*.rs' | wc -l) files checked)"
