package p2p

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// libp2pLogs records what go-libp2p logs during the tests (RouteLibp2pLogs is per process).
var libp2pLogs = &recorder{}

func TestMain(m *testing.M) {
	RouteLibp2pLogs(libp2pLogs, slog.LevelWarn)
	os.Exit(m.Run())
}

// recorder is a slog.Handler that keeps the last 256 messages.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) >= 256 {
		r.msgs = r.msgs[1:]
	}
	r.msgs = append(r.msgs, b.String())
	if os.Getenv("P2P_TEST_LOG") != "" {
		os.Stderr.WriteString("libp2p: " + b.String() + "\n")
	}
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) contains(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
