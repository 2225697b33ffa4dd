package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"seedpod/pod/httpclient"
	"seedpod/pod/relay"
	"seedpod/pod/relay/ratelimit"
)

const relayUsage = `Usage:
  seedpod relay --domain D (--tls-cert FILE --tls-key FILE | --acme) [--listen ADDR] [--data DIR]
                [--rate 50] [--burst 200] [--p2p-listen ADDRS|off]
                                   serve the relay for identities @D (default --listen :443); its
                                   circuit relay lets their devices sync across networks (default
                                   --p2p-listen: TCP and QUIC port 4001 on every interface)
  seedpod relay invite USERNAME [--data DIR] [--ttl 72h]
                                   print a one-time enrollment code for USERNAME@D
`

func relayMain(args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	if len(args) > 0 && args[0] == "invite" {
		return relayInvite(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	domain := fs.String("domain", "", "the domain identities live under")
	listen := fs.String("listen", ":443", "address to listen on")
	data := fs.String("data", "", "data directory (default $XDG_DATA_HOME/seedpod-relay)")
	certFile := fs.String("tls-cert", "", "TLS certificate chain (PEM)")
	keyFile := fs.String("tls-key", "", "TLS private key (PEM)")
	useACME := fs.Bool("acme", false, "obtain and renew the certificate for --domain automatically (ACME, TLS-ALPN-01 on the listen port)")
	rate := fs.Float64("rate", relay.DefaultRateLimit.Rate, "requests per second per client address (IPv6 per /64); 0 turns limiting off")
	burst := fs.Int("burst", relay.DefaultRateLimit.Burst, "requests a client may burst above --rate")
	p2pListen := fs.String("p2p-listen", "", "libp2p listen multiaddrs of the devices' circuit relay, comma-separated; off: none")
	// Test-only: deliver to loopback (every name resolves to 127.0.0.1)
	// and trust a test CA.
	testOut := addTestOutboundFlags(fs)
	if code, ok := parseRelayFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if *rate < 0 || *burst < 1 {
		fmt.Fprintf(stderr, "seedpod relay: --rate must be ≥ 0 and --burst ≥ 1\n\n%s", relayUsage)
		return 2
	}
	if *domain == "" || (*useACME == (*certFile != "" || *keyFile != "")) || (!*useACME && (*certFile == "" || *keyFile == "")) {
		fmt.Fprintf(stderr, "seedpod relay: --domain and either --acme or both --tls-cert and --tls-key are required\n\n%s", relayUsage)
		return 2
	}
	var p2pAddrs []string
	switch *p2pListen {
	case "off":
	case "":
		p2pAddrs = []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1", "/ip6/::/tcp/4001", "/ip6/::/udp/4001/quic-v1"}
	default:
		for _, a := range strings.Split(*p2pListen, ",") {
			if a = strings.TrimSpace(a); a != "" {
				p2pAddrs = append(p2pAddrs, a)
			}
		}
		if len(p2pAddrs) == 0 {
			fmt.Fprintf(stderr, "seedpod relay: --p2p-listen %q names no address\n\n%s", *p2pListen, relayUsage)
			return 2
		}
	}
	var tlsConfig *tls.Config
	if !*useACME {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintf(stderr, "seedpod relay: TLS certificate: %v\n", err)
			return 2
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Deliveries go out through the one hardened client: private and
	// reserved addresses are refused when the socket opens, and diaspora
	// deliveries never follow redirects.
	outOpts, err := testOut.options(httpclient.Options{Version: versionString(), NoRedirects: true})
	if err != nil {
		fmt.Fprintf(stderr, "seedpod relay: %v\n", err)
		return 2
	}
	if testOut.on() {
		log.Warn("TEST MODE: outbound deliveries go to loopback")
	}
	out := httpclient.New(outOpts)
	r, err := relay.Open(ctx, relay.Config{Domain: *domain, DataDir: *data, Version: versionString(), Logger: log,
		Outbound: out, RateLimit: ratelimit.Options{Rate: *rate, Burst: *burst}, NoRateLimit: *rate == 0, P2PListen: p2pAddrs})
	if err != nil {
		fmt.Fprintf(stderr, "seedpod relay: %v\n", err)
		return 1
	}
	defer r.Close()
	if *useACME {
		// Certificates for --domain only, kept in the data directory. The
		// ACME client talks to the CA itself (a fixed, trusted endpoint),
		// not through pod/httpclient.
		host, _, err := net.SplitHostPort(*domain)
		if err != nil {
			host = *domain
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(host),
			Cache:      autocert.DirCache(filepath.Join(r.DataDir(), "acme")),
		}
		tlsConfig = m.TLSConfig()
		tlsConfig.MinVersion = tls.VersionTLS12
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "seedpod relay: listen on %s: %v\n", *listen, err)
		return 1
	}
	srv := r.HTTPServer(tlsConfig, relay.Timeouts{})
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(stdout, "Seedpod relay %s for @%s listening on https://%s/\n", versionString(), *domain, ln.Addr())
	fmt.Fprintf(stdout, "Data: %s\n", r.DataDir())
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "seedpod relay: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return 0
}

func relayInvite(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		fmt.Fprintf(stderr, "seedpod relay invite: which username?\n\n%s", relayUsage)
		return 2
	}
	username := args[0]
	fs := flag.NewFlagSet("relay invite", flag.ContinueOnError)
	data := fs.String("data", "", "data directory")
	ttl := fs.Duration("ttl", 72*time.Hour, "how long the code is valid")
	if code, ok := parseRelayFlags(fs, args[1:], stdout, stderr); !ok {
		return code
	}
	if *ttl <= 0 || *ttl > 30*24*time.Hour {
		fmt.Fprintln(stderr, "seedpod relay invite: --ttl must be between 1s and 720h")
		return 2
	}
	code, err := relay.Invite(context.Background(), *data, username, *ttl, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "seedpod relay: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, code)
	return 0
}

func parseRelayFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (int, bool) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(stdout, relayUsage)
			return 0, false
		}
		fmt.Fprintf(stderr, "seedpod relay: %v\n\n%s", err, relayUsage)
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "seedpod relay: unexpected argument %q\n\n%s", fs.Arg(0), relayUsage)
		return 2, false
	}
	return 0, true
}
