//go:build desktop || dev

package main

import (
	_ "embed"
	"io/fs"
	"log/slog"
	"net/http"

	"seedpod/app"
)

//go:embed build/appicon.png
var appIcon []byte

const windowBuilt = true

const noWindowMessage = ""

func runWindow(ui fs.FS, api http.Handler, log *slog.Logger) error {
	return app.Run(app.Options{UI: ui, API: api, Icon: appIcon, Logger: log})
}
