//go:build !desktop && !dev

package main

import (
	"errors"
	"io/fs"
	"log/slog"

	"seedpod/pod/web"
)

// windowBuilt is false in a plain `go build`: the window needs cgo, GTK and
// WebKitGTK, which servers and CI do without.
const windowBuilt = false

const noWindowMessage = `seedpod: this binary was built without the desktop window.

Build the desktop app with:
  make build-desktop        (installs GTK/WebKitGTK, builds the UI, then
                             go build -tags desktop,production,webkit2_41)

Or run the pod headless and use it in your browser:
  seedpod serve
`

func runWindow(fs.FS, *web.Server, *slog.Logger) error {
	return errors.New("desktop window not built in")
}
