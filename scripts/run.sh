#!/usr/bin/env bash
# make run: install what is missing, build, and start Seedpod. With a display
# it opens the desktop window; without one it runs `seedpod serve` and prints
# the URL with a one-time login link. Extra arguments go to seedpod.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  scripts/deps.sh desktop
  make --no-print-directory build-desktop
  exec build/bin/seedpod "$@"
fi
echo "No display found: starting the pod headless. Open the link below in a browser on this machine."
scripts/deps.sh serve
make --no-print-directory build
exec bin/seedpod serve "$@"
