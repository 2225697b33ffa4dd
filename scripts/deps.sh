#!/usr/bin/env bash
# Installs what Seedpod needs on Debian 12, and only what is missing.
#   scripts/deps.sh serve    frontend packages (enough for `seedpod serve`)
#   scripts/deps.sh desktop  that, plus GTK/WebKitGTK for the window and the pinned Wails CLI
#   scripts/deps.sh test     all of the above, plus Xvfb, Chromium and tools for the tests
# Idempotent: a second run installs nothing and takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-desktop}
case "$what" in serve | desktop | test) ;; *)
  echo "usage: scripts/deps.sh serve|desktop|test" >&2
  exit 2
  ;;
esac

say() { printf '\033[1;32m==>\033[0m %s\n' "$*"; }
die() {
  printf 'deps: %s\n' "$*" >&2
  exit 1
}

# --- toolchains the machine must bring (Debian's own are too old) -----------
command -v go >/dev/null || die "Go is missing: install Go 1.26 or newer (go.dev/dl), then rerun."
gov=$(go env GOVERSION | sed 's/^go//')
[ "$(printf '%s\n1.26\n' "$gov" | sort -V | head -1)" = "1.26" ] || die "Go $gov is too old: Seedpod needs Go 1.26 or newer."
command -v node >/dev/null || die "Node.js is missing: install Node.js 20.19+ (Debian's nodejs 18 is too old for Vite 8)."
nodev=$(node -p 'process.versions.node')
[ "$(printf '%s\n20.19.0\n' "$nodev" | sort -V | head -1)" = "20.19.0" ] || die "Node.js $nodev is too old: Vite 8 needs 20.19 or newer."

# --- Debian packages ----------------------------------------------------------
pkgs=()
[ "$what" = serve ] || pkgs+=(build-essential pkg-config libgtk-3-dev libwebkit2gtk-4.1-dev)
if [ "$what" = test ]; then
  # xauth is only Recommended by xvfb, and xvfb-run needs it; imagemagick
  # checks screenshots; fonts so text renders the same everywhere;
  # dbus-daemon: notify/ tests start a private session bus.
  pkgs+=(xvfb xauth x11-utils xdotool imagemagick chromium fonts-dejavu-core iproute2 dbus-daemon)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- npm packages (from the committed lockfiles) --------------------------------
npm_ci() {
  local dir=$1 stamp="$1/node_modules/.seedpod-lock"
  local want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
}
npm_ci frontend
[ "$what" = test ] && npm_ci e2e

[ "$what" = serve ] && exit 0

# --- the pinned Wails CLI (tools/go.mod) -----------------------------------------
# `go tool -n` builds it into the Go cache the first time (about a minute) and
# then only prints its path; `make dev` runs it with `go tool`.
go tool -modfile=tools/go.mod -n wails >/dev/null || die "building the pinned Wails CLI (tools/go.mod) failed"
exit 0
