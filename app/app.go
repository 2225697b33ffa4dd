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
	"sync/atomic"

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
	// OnStart, when set, runs beside the window from startup until it
	// closes (ctx ends then): the OS notifications. w opens routes and
	// tells the window's focus.
	OnStart func(ctx context.Context, w *Window)
}

// EventName is the Wails event that carries the pod's live events to the page.
const EventName = "seedpod:event"

// OpenEventName is the Wails event Go emits when the user clicks an OS
// notification: {route: "#/post/<guid>"} (or "#/conversations/<guid>",
// "#/people/<guid>", "#/notifications"). The page navigates there.
const OpenEventName = "seedpod:open"

// FocusEventName is the Wails event the page emits on window focus and blur
// (and visibilitychange): {focused: bool}. Wails v2 cannot tell the window's
// focus, and GTK must not be asked from another thread; until the page
// says, the window counts as not focused (OS notifications are shown).
const FocusEventName = "seedpod:focus"

// Window is what code beside the window may do with it.
type Window struct {
	ctx     context.Context
	focused atomic.Bool
}

// Open brings the window up (unminimised, presented) and asks the page to
// show route.
func (w *Window) Open(route string) {
	runtime.WindowUnminimise(w.ctx)
	runtime.WindowShow(w.ctx)
	runtime.EventsEmit(w.ctx, OpenEventName, map[string]string{"route": route})
}

// Focused reports what the page last said about the window's focus.
func (w *Window) Focused() bool { return w.focused.Load() }

// onFocus reads the page's focus event: {focused: bool}, or a bare bool.
func (w *Window) onFocus(data ...any) {
	if len(data) == 0 {
		return
	}
	switch v := data[0].(type) {
	case bool:
		w.focused.Store(v)
	case map[string]any:
		if f, ok := v["focused"].(bool); ok {
			w.focused.Store(f)
		}
	}
}

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
	stopEvents, stopSide := func() {}, func() {}
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
			if opts.OnStart != nil {
				w := &Window{ctx: ctx}
				runtime.EventsOn(ctx, FocusEventName, w.onFocus)
				sctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				stopSide = func() { cancel(); <-done }
				go func() { defer close(done); opts.OnStart(sctx, w) }()
			}
			if opts.Events == nil {
				return
			}
			ectx, cancel := context.WithCancel(ctx)
			stopEvents = cancel
			go opts.Events(ectx, func(typ string, data []byte) {
				runtime.EventsEmit(ctx, EventName, map[string]any{"type": typ, "data": json.RawMessage(data)})
			})
		},
		OnShutdown: func(context.Context) { stopEvents(); stopSide() },
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
