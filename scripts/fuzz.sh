#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default 5s).
#   make test runs it briefly (FUZZTIME=5s); make fuzz runs it longer (120s).
# FUZZTIME must be whole seconds ("5s", "120s"): a run cut short before
# fuzzing began is repeated with three times the time (see below).
# Crashers are written by go test to the package's testdata/fuzz/ and fail
# the run; commit them once fixed, as regression seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
if ! [[ $fuzztime =~ ^[0-9]+s$ ]]; then
  echo "fuzz: FUZZTIME must be whole seconds such as 5s or 120s, not \"$fuzztime\"" >&2
  exit 2
fi
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
    # The fuzz time's deadline also covers starting the workers and
    # replaying the seeds (cmd/go starts it before either). On a loaded
    # machine that alone can outlast a short run, and go test then fails
    # with only "context deadline exceeded" and no failing input. That is
    # not a finding: run the target once more with three times the time.
    # A real finding prints "Failing input written to …" and fails at once.
    # -fuzzminimizetime: shrinking each new corpus entry may take up to 60 s
    # by default, which stalls the targets whose inputs are KB-sized
    # envelopes for most of a long run.
    out=$(mktemp)
    if ! go test -run '^$' -fuzzminimizetime 5s -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"$out" 2>&1; then
      if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
        grep -v '^fuzz: elapsed' "$out"
        echo "--- fuzz $pkg $name: the deadline passed before fuzzing began (loaded machine); once more with 3x the time"
        longer="$(( ${fuzztime%s} * 3 ))s"
        if ! go test -run '^$' -fuzzminimizetime 5s -fuzz "^${name}\$" -fuzztime "$longer" "$pkg" >"$out" 2>&1; then
          grep -v '^fuzz: elapsed' "$out"; rm -f "$out"
          echo "fuzz: $name in $pkg failed"
          exit 1
        fi
      else
        grep -v '^fuzz: elapsed' "$out"; rm -f "$out"
        echo "fuzz: $name in $pkg failed"
        exit 1
      fi
    fi
    grep -v '^fuzz: elapsed' "$out" || true
    rm -f "$out"
    count=$((count + 1))
  done
done < <(go list ./...)
echo "fuzz: $count passed, 0 failed"
