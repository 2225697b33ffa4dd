//go:build desktop || dev

package main

import (
	"context"
	_ "embed"
	"io/fs"
	"log/slog"
	"time"

	"seedpod/app"
	"seedpod/notify"
	"seedpod/pod/web"
)

//go:embed build/appicon.png
var appIcon []byte

const windowBuilt = true

const noWindowMessage = ""

func runWindow(ui fs.FS, api *web.Server, log *slog.Logger) error {
	return app.Run(app.Options{UI: ui, API: api, Icon: appIcon, Logger: log, Events: api.Events,
		OnStart: func(ctx context.Context, w *app.Window) { runNotifications(ctx, api, w, log) }})
}

// runNotifications shows the pod's new notifications and messages as OS
// notifications while the window is open; a click opens their route in
// the window. GET /settings tells the page whether the service answers.
func runNotifications(ctx context.Context, api *web.Server, w *app.Window, log *slog.Logger) {
	p := api.Pod()
	if p == nil {
		return
	}
	n := notify.New(notify.Config{
		Icon:          "seedpod", // build/linux/seedpod.desktop's Icon=
		DesktopEntry:  "seedpod",
		SummaryTarget: "#/notifications",
		OnInvoke:      w.Open,
		OnStatus: func(ok bool, _ string) {
			if ok {
				api.SetOSService(web.OSServiceAvailable)
			} else {
				api.SetOSService(web.OSServiceUnavailable)
			}
		},
		Logger: log,
	})
	defer n.Close()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	watcher, err := notify.NewWatcher(sctx, notify.WatcherConfig{Source: p, Show: n.Show, Focused: w.Focused, Logger: log})
	cancel()
	if err != nil {
		log.Warn("notify: OS notifications off", "err", err)
		return
	}
	watcher.Run(ctx, api.Events)
}
