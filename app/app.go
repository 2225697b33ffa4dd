// Package app is the Wails glue and nothing else: it opens the desktop window
// over an already-open pod. The window's UI reaches the pod's HTTP handler
// in-process through the asset server middleware, so no TCP port is opened.
//
// It is the only package that imports Wails. Built without the Wails tags
// (desktop, production) Wails compiles to a stub, so this package still
// vets and builds with CGO_ENABLED=0; main only calls it under the desktop
// tag. It must not be imported by anything under pod/ or sync/.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/logger"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// Options describe the window.
type Options struct {
	// UI is the built frontend; the window refuses to open without it.
	UI fs.FS
	// API is the pod's HTTP handler in window mode; it gets every /api/
	// request the page makes.
	API http.Handler
	// Icon is the window icon (PNG).
	Icon   []byte
	Logger *slog.Logger
	// Events, when set, delivers the pod's live events until its context
	// ends (web.Server.Events). The window's webview does not stream HTTP
	// responses, so the page gets them as Wails events instead of
	// server-sent events: EventName, with {type, data}.
	Events func(ctx context.Context, fn func(typ string, data []byte))
}

// EventName is the Wails event that carries the pod's live events to the page.
const EventName = "seedpod:event"

// Run opens the window and blocks until it is closed.
func Run(opts Options) error {
	if opts.UI == nil {
		return errors.New("the desktop window needs the built UI: run `make build-desktop` (it builds the frontend first)")
	}
	if opts.API == nil {
		return errors.New("app: no API handler")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stopEvents := func() {}
	err := wails.Run(&options.App{
		Title:     "Seedpod",
		Width:     1280,
		Height:    800,
		MinWidth:  720,
		MinHeight: 480,
		// The first paint before CSS loads; matches the UI's light surface.
		BackgroundColour: &options.RGBA{R: 248, G: 250, B: 247, A: 255},
		AssetServer: &assetserver.Options{
			Assets: opts.UI,
			Middleware: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasPrefix(r.URL.Path, "/api/") {
						opts.API.ServeHTTP(w, r)
						return
					}
					next.ServeHTTP(w, r)
				})
			},
		},
		OnStartup: func(ctx context.Context) {
			if opts.Events == nil {
				return
			}
			ectx, cancel := context.WithCancel(ctx)
			stopEvents = cancel
			go opts.Events(ectx, func(typ string, data []byte) {
				runtime.EventsEmit(ctx, EventName, map[string]any{"type": typ, "data": json.RawMessage(data)})
			})
		},
		OnShutdown: func(context.Context) { stopEvents() },
		OnDomReady: func(context.Context) { log.Info("window: dom ready") },
		Logger:     slogAdapter{log},
		LogLevel:   logger.WARNING,
		Linux: &linux.Options{
			Icon:        opts.Icon,
			ProgramName: "seedpod",
		},
	})
	if err != nil {
		return fmt.Errorf("desktop window: %w", err)
	}
	return nil
}

// slogAdapter sends Wails' own log lines to the pod's logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Print(m string)   { a.l.Info(m, "src", "wails") }
func (a slogAdapter) Trace(m string)   { a.l.Debug(m, "src", "wails") }
func (a slogAdapter) Debug(m string)   { a.l.Debug(m, "src", "wails") }
func (a slogAdapter) Info(m string)    { a.l.Info(m, "src", "wails") }
func (a slogAdapter) Warning(m string) { a.l.Warn(m, "src", "wails") }
func (a slogAdapter) Error(m string)   { a.l.Error(m, "src", "wails") }
func (a slogAdapter) Fatal(m string) {
	a.l.Error(m, "src", "wails", "fatal", true)
	os.Exit(1)
}
