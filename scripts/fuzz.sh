#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default 5s).
#   make test runs it briefly (FUZZTIME=5s: a target whose seed corpus takes longer than the fuzz time fails with "context deadline exceeded" on a loaded machine); make fuzz runs it longer (2m).
# Crashers are written by go test to the package's testdata/fuzz/ and fail
# the run; commit them once fixed, as regression seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
count=0
while read -r pkg; do
  # go test -list prints the matching names, then "ok <pkg> …".
  for name in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "--- fuzz $pkg $name ($fuzztime)"
    if [ "${FUZZ_FRESH:-0}" = 1 ]; then
      # Each target first replays its cached corpus (GOCACHE/fuzz), which
      # grows with every longer run on this machine: a short run whose
      # replay outlasts the fuzz time fails with "context deadline
      # exceeded". make test starts each target from its committed seeds,
      # as a fresh CI machine does.
      rm -rf "$(go env GOCACHE)/fuzz/$pkg/$name"
    fi
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | grep -v '^fuzz: elapsed' || {
      echo "fuzz: $name in $pkg failed"
      exit 1
    }
    count=$((count + 1))
  done
done < <(go list ./...)
echo "fuzz: $count passed, 0 failed"
