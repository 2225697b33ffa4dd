package relay

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"
)

// Timeouts bound how long a client may take. A slow sender cannot hold a
// connection: headers must arrive within Header, the whole request within
// Read. The zero value means the defaults.
type Timeouts struct {
	Header time.Duration // default 10 s
	Read   time.Duration // default 60 s: a 2 MiB body at 35 KiB/s
	Write  time.Duration // default 90 s: long polls wait 30 s at most
	Idle   time.Duration // default 120 s
}

// HTTPServer is the relay's http.Server: its handler, TLS, the timeouts and
// a cap on header size.
func (r *Relay) HTTPServer(tlsConfig *tls.Config, t Timeouts) *http.Server {
	def := func(d, v time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return d
	}
	return &http.Server{
		Handler:           r.Handler(),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: def(10*time.Second, t.Header),
		ReadTimeout:       def(60*time.Second, t.Read),
		WriteTimeout:      def(90*time.Second, t.Write),
		IdleTimeout:       def(120*time.Second, t.Idle),
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
}
