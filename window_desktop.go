//go:build desktop || dev

package main

import (
	_ "embed"
	"io/fs"
	"log/slog"

	"seedpod/app"
	"seedpod/pod/web"
)

//go:embed build/appicon.png
var appIcon []byte

const windowBuilt = true

const noWindowMessage = ""

func runWindow(ui fs.FS, api *web.Server, log *slog.Logger) error {
	return app.Run(app.Options{UI: ui, API: api, Icon: appIcon, Logger: log, Events: api.Events})
}
