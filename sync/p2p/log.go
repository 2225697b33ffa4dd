package p2p

import (
	"context"
	"log/slog"

	"github.com/libp2p/go-libp2p/gologshim"
)

// RouteLibp2pLogs sends go-libp2p's own logs (all subsystems) to handler, dropping records
// below minLevel (go-libp2p is chatty at debug and info). gologshim keeps this in process-wide
// state and each go-libp2p logger binds its handler on its first record: call it once, at
// start-up, before NewHost or NewRelayService. Without it go-libp2p writes errors to stderr
// (level set by GOLOG_LOG_LEVEL).
func RouteLibp2pLogs(handler slog.Handler, minLevel slog.Leveler) {
	gologshim.SetDefaultHandler(levelHandler{h: handler, min: minLevel})
}

// levelHandler filters records below min before the wrapped handler sees them.
type levelHandler struct {
	h   slog.Handler
	min slog.Leveler
}

func (l levelHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min.Level() && l.h.Enabled(ctx, lv)
}

func (l levelHandler) Handle(ctx context.Context, r slog.Record) error { return l.h.Handle(ctx, r) }

func (l levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return levelHandler{h: l.h.WithAttrs(as), min: l.min}
}

func (l levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h: l.h.WithGroup(name), min: l.min}
}
