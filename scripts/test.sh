#!/usr/bin/env bash
# make test: install what the tests need, then run every test: Go (vet, race),
# frontend (types, unit), browser end-to-end against a real `seedpod serve`,
# and the desktop window smoke test under Xvfb. Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

stages=0
step() {
  stages=$((stages + 1))
  printf '\n\033[1;34m=== %s\033[0m\n' "$*"
}
start=$(date +%s)

step "dependencies"
scripts/deps.sh test

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './frontend/node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"
  echo "$unformatted"
  exit 1
fi

step "go vet"
CGO_ENABLED=0 go vet ./...
go vet -tags desktop,production,webkit2_41 .

step "go test -race"
# pod/store's race run takes ~400 s on a quiet 2-core machine: go test's
# default 10-minute limit per package leaves too little room on a slow one.
go test -race -count=1 -timeout 30m ./...

step "device sync: three pods converge, 200 seeds"
# Under -race the test runs 20 seeds (SQLite is ten times slower there);
# the issue's 200 run here, without the detector.
go test -count=1 -run '^TestDevicesConverge$' -timeout 20m ./pod/

step "fuzz targets, briefly"
FUZZ_FRESH=1 FUZZTIME=5s scripts/fuzz.sh

step "frontend: types and unit tests"
npm --prefix frontend run check
npm --prefix frontend test

step "e2e: Chromium against a real seedpod serve"
make --no-print-directory build
npm --prefix e2e test

step "desktop: the real window under Xvfb"
make --no-print-directory build-desktop
scripts/desktop-smoke.sh

echo
echo "# make test took $(($(date +%s) - start)) s"
# Every stage stops the run on failure, so reaching here means all passed.
echo "stages: $stages passed, 0 failed"
