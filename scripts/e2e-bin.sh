#!/bin/sh
# Builds the UI and a seedpod binary with it into $1 (default bin/seedpod),
# holding a lock: several people (or agents) working on the UI at once
# share frontend/dist, so builds take turns. Run e2e tests against it with
# SEEDPOD_BIN=$1 npm --prefix e2e test.
set -eu
out=${1:-bin/seedpod}
cd "$(dirname "$0")/.."
exec flock /tmp/seedpod-ui-build.lock sh -c "npm --prefix frontend run build >/dev/null && CGO_ENABLED=0 go build -trimpath -o '$out' ."
