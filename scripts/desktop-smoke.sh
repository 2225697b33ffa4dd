#!/usr/bin/env bash
# Desktop smoke test: the real Wails binary (build/bin/seedpod, built with
# desktop,production,webkit2_41) in a real window under Xvfb. It checks that
#   1. the window opens (xdotool finds it),
#   2. the UI's script ran and reached the pod in-process (the pod logs the
#      UI's GET /api/seedpod/v1/status answered 200),
#   3. the process listens on no TCP port but device sync's (the API is not on the network),
#   4. a fresh pod opens on the first run, rendered (not a blank window),
#   5. the first run is walked by keyboard: create an identity (a small test
#      key), skip the relay and the backup, and the app shell shows,
#   6. one post: the composer sends it and the pod stores it,
#   7. live events reach the page as Wails events: a Markdown file dropped
#      in the drafts folder makes the open Drafts screen reload its list,
#   8. the window takes mouse input: a click on Settings selects it.
# Screenshots stay in build/smoke/ to look at.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-build/bin/seedpod}
out=build/smoke
rm -rf "$out" && mkdir -p "$out"
data=$(mktemp -d)
log="$out/seedpod.log"
pass=0 fail=0
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "not ok - $*"; fail=$((fail + 1)); }
finish() {
  echo "desktop-smoke: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
}

# A free display number: no lock file and no socket.
d=90
while [ -e "/tmp/.X$d-lock" ] || [ -e "/tmp/.X11-unix/X$d" ]; do d=$((d + 1)); done
Xvfb ":$d" -screen 0 1280x800x24 -nolisten tcp >"$out/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=":$d"
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

# Device sync listens on one loopback port of our choosing; the API must
# not listen anywhere.
p2pport=$((20000 + RANDOM % 30000))
while ss -Hltn "sport = :$p2pport" | grep -q .; do p2pport=$((20000 + RANDOM % 30000)); done
SEEDPOD_LOG=debug "$bin" --data "$data" --drafts "$data/Drafts" --p2p-listen "/ip4/127.0.0.1/tcp/$p2pport" --mdns=false \
  --test-key-bits 2048 >"$log" 2>&1 &
app=$!
pids+=($app)

wid=""
for _ in $(seq 300); do
  wid=$(xdotool search --onlyvisible --name '^Seedpod$' 2>/dev/null | head -1 || true)
  [ -n "$wid" ] && break
  kill -0 "$app" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$wid" ]; then ok "the Seedpod window opened"; else
  bad "no Seedpod window appeared"
  cat "$log"
  finish
fi

reached=""
for _ in $(seq 300); do
  if grep -q 'path=/api/seedpod/v1/status status=200' "$log"; then reached=1 && break; fi
  sleep 0.1
done
if [ -n "$reached" ]; then ok "the UI reached the pod API in-process"; else
  bad "the UI never asked the pod for its status"
  cat "$log"
fi

# Every TCP socket the process listens on is device sync's (libp2p) port.
listening=$(ss -Hltnp 2>/dev/null | grep "pid=$app," | grep -vc "127.0.0.1:$p2pport " || true)
synced=$(ss -Hltnp 2>/dev/null | grep "pid=$app," | grep -c "127.0.0.1:$p2pport " || true)
if [ "$listening" = 0 ] && [ "$synced" = 1 ]; then ok "the window opened no TCP port but device sync's"; else
  bad "the desktop process listens on $listening TCP socket(s) besides device sync's ($synced on 127.0.0.1:$p2pport)"
  ss -Hltnp | grep "pid=$app,"
fi

# logged PATTERN [TRIES]: waits (0.1 s a try) for the pod's log to show PATTERN.
logged() {
  for _ in $(seq "${2:-300}"); do
    grep -q -- "$1" "$log" && return 0
    sleep 0.1
  done
  return 1
}
shot="$out/window.png"
# frac COLOUR FUZZ: the fraction of pixels near COLOUR (marked magenta, which
# the UI never uses, so pixels already white or black cannot count).
frac() {
  convert "$shot" -alpha off -fuzz "$2" -fill '#ff00ff' -opaque "$1" -fuzz 0 \
    -fill black +opaque '#ff00ff' -fill white -opaque '#ff00ff' -format '%[fx:mean]' info:
}

# The first run: a card on the page background (#f8faf7) with the brand
# green logo (#2f7d5b), and text (many anti-aliased colours). WebKit paints
# a moment after the page's first requests, more so on a loaded machine.
rendered=""
for _ in $(seq 60); do
  import -window "$wid" "$shot"
  page=$(frac '#f8faf7' 3%)
  brand=$(frac '#2f7d5b' 6%)
  colours=$(convert "$shot" -format '%k' info:)
  if awk -v p="$page" -v b="$brand" -v c="$colours" 'BEGIN { exit !(p > 0.3 && b > 0.0005 && c > 200) }'; then
    rendered=1 && break
  fi
  sleep 0.5
done
cp "$shot" "$out/firstrun.png"
echo "# page fraction $page, brand fraction $brand, distinct colours $colours"
if [ -n "$rendered" ]; then ok "a fresh pod opens on the rendered first run ($out/firstrun.png)"; else
  bad "the screenshot does not look like the first run ($shot)"
fi

# Walk the first run by keyboard: each step focuses its first control.
xdotool windowactivate --sync "$wid" 2>/dev/null || xdotool windowfocus --sync "$wid" || true
xdotool key --window "$wid" Return # "Create a new identity"
sleep 0.5
xdotool type --window "$wid" --delay 30 'Smoke Tester'
xdotool key --window "$wid" Return # submits the form
if logged 'method=POST path=/api/seedpod/v1/identity status=201'; then ok "the first run created the identity"; else
  bad "no identity was created (see $log)"
  finish
fi
if logged 'identity key ready' 600; then ok "the identity key was made"; else bad "the identity key never got ready"; fi
sleep 1.5                            # the first run sees the key ready, focuses Continue
xdotool key --window "$wid" Return   # Continue
sleep 0.5
xdotool key --window "$wid" Tab Tab Return # relay: address, code, "Skip for now"
sleep 0.5
xdotool key --window "$wid" Return   # backup: "Start using Seedpod"

# The app shell: the sidebar colour (#eef3ee) covers the 248 px sidebar,
# the brand green draws the logo and the active navigation item.
rendered=""
for _ in $(seq 60); do
  import -window "$wid" "$shot"
  sidebar=$(frac '#eef3ee' 2%)
  brand=$(frac '#2f7d5b' 6%)
  colours=$(convert "$shot" -format '%k' info:)
  if awk -v s="$sidebar" -v b="$brand" -v c="$colours" 'BEGIN { exit !(s > 0.12 && s < 0.35 && b > 0.0005 && c > 200) }'; then
    rendered=1 && break
  fi
  sleep 0.5
done
echo "# sidebar fraction $sidebar, brand fraction $brand, distinct colours $colours"
if [ -n "$rendered" ]; then
  ok "after the first run the app shell shows ($shot)"
else
  bad "the screenshot does not look like the app shell ($shot)"
fi

# One post: "c" puts the keyboard in the composer, Ctrl+Enter sends.
xdotool key --window "$wid" c
sleep 0.3
xdotool type --window "$wid" --delay 20 'Hello from the desktop window'
xdotool key --window "$wid" ctrl+Return
if logged 'method=POST path=/api/v1/posts status=200'; then ok "the composer posted"; else bad "no post was made (see $log)"; fi
sleep 1
import -window "$wid" "$out/post.png"

# Live events: open Drafts (a click), then drop a file in the drafts folder;
# only the pod's "draft" event makes the screen ask for the list again.
lists() { grep -c 'method=GET path=/api/seedpod/v1/drafts status=200' "$log" || true; }
xdotool mousemove --window "$wid" 120 263 click 1
for _ in $(seq 50); do [ "$(lists)" -ge 1 ] && break; sleep 0.1; done
before=$(lists)
printf -- '---\naudience: public\n---\nWritten in the drafts folder\n' >"$data/Drafts/smoke.md"
live=""
for _ in $(seq 100); do
  if [ "$(lists)" -gt "$before" ]; then live=1 && break; fi
  sleep 0.1
done
if [ -n "$live" ]; then ok "a live event reached the window (the Drafts list reloaded after a file appeared)"; else
  bad "no live event reached the window: the Drafts list was not reloaded ($before loads)"
fi
if grep -q 'path=/api/seedpod/v1/events' "$log"; then bad "the window's page opened an EventSource (its webview cannot stream)"; else
  ok "the window uses Wails events, not an EventSource"
fi
sleep 0.5
import -window "$wid" "$out/drafts.png"

# The real engine takes input: click Settings in the navigation and watch its
# row turn the selected colour (#dcefe3) while Stream's row turns plain.
pixel() { convert "$1" -format "%[hex:p{$2,$3}]" info: | tr 'a-f' 'A-F'; }
xdotool mousemove --window "$wid" 120 341 click 1
clicked=""
for _ in $(seq 40); do
  import -window "$wid" "$out/settings.png"
  settings_row=$(pixel "$out/settings.png" 220 341)
  stream_row=$(pixel "$out/settings.png" 220 98)
  case "$settings_row/$stream_row" in DCEFE3*/EEF3EE*) clicked=1 && break ;; esac
  sleep 0.25
done
if [ -n "$clicked" ]; then ok "a click on Settings selects it ($out/settings.png)"; else
  bad "clicking Settings changed nothing (Settings row $settings_row, Stream row $stream_row)"
fi

kill -TERM "$app" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$app" 2>/dev/null || break; sleep 0.1; done
finish
