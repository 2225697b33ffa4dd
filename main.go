// Command seedpod is the Seedpod binary: the desktop app, the headless pod,
// and (as later issues add them) the relay and protocol tools. This file
// holds the modes and their flags, nothing else; pod.Open does the wiring.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"seedpod/frontend"
	"seedpod/pod"
	"seedpod/pod/drafts"
	"seedpod/pod/protocli"
	"seedpod/pod/web"
)

const usage = `Seedpod — your own diaspora* pod.

Usage:
  seedpod [--data DIR]                       open the desktop app
  seedpod serve [--data DIR] [--listen ADDR] run the pod headless; the UI is in your browser
  seedpod relay --domain D --tls-cert F --tls-key F [--listen ADDR] [--data DIR]
                                             the public relay (seedpod relay invite USERNAME: enrollment code)
  seedpod proto COMMAND …                    diaspora* protocol tools (seedpod proto help)
  seedpod refold [--data DIR] [--check]      rebuild the tables from the op log (--check: and compare)
  seedpod dev seed [--data DIR] --posts N --contacts M
                                             fill a pod with generated people and posts (benchmarks)
  seedpod publish [--data DIR] [--drafts DIR] FILE
                                             publish a draft file as a post (queued offline;
                                             a running Seedpod takes it)
  seedpod version                            print the version
  seedpod help                               print this help

Flags:
  --data DIR      data directory (default $XDG_DATA_HOME/seedpod, i.e. ~/.local/share/seedpod)
  --listen ADDR   loopback address for serve (default 127.0.0.1:7474; port 0 picks a free one)
  --drafts DIR    the watched drafts folder of Markdown files (default ~/Seedpod/Drafts;
                  --drafts off watches none)
  --p2p-listen L  device sync: comma-separated libp2p multiaddrs to listen on (default every
                  interface, TCP and QUIC port 4747; --p2p-listen off turns device sync off)
  --mdns=false    device sync: do not look for your devices on the local network

Environment:
  SEEDPOD_LOG     log level on stderr: debug, info (default), warn or error
`

const defaultListen = "127.0.0.1:7474"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code (0 ok, 1
// failure, 2 usage error) so the modes can be tested in-process.
func run(args []string, stdout, stderr io.Writer) int {
	mode := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		mode, args = args[0], args[1:]
	}
	var level slog.Level // info, unless SEEDPOD_LOG says debug, warn or error
	if err := level.UnmarshalText([]byte(os.Getenv("SEEDPOD_LOG"))); err != nil {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	switch mode {
	case "":
		if len(args) > 0 && isHelp(args[0]) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		return window(args, stdout, stderr, log)
	case "serve":
		return serve(args, stdout, stderr, log)
	case "relay":
		return relayMain(args, stdout, stderr, log)
	case "refold":
		return refoldMain(args, stdout, stderr, log)
	case "dev":
		return devMain(args, stdout, stderr, log)
	case "publish":
		return publishMain(args, stdout, stderr, log)
	case "proto":
		return protocli.Run(args, os.Stdin, stdout, stderr)
	case "version":
		if len(args) > 0 {
			return usageError(stderr, "version takes no arguments")
		}
		fmt.Fprintln(stdout, "seedpod", versionString())
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		return usageError(stderr, fmt.Sprintf("unknown mode %q", mode))
	}
}

// syncFlags are the device-sync flags of the window and serve.
type syncFlags struct {
	listen *string
	mdns   *bool
}

func addSyncFlags(fs *flag.FlagSet) syncFlags {
	return syncFlags{listen: fs.String("p2p-listen", "", "device sync listen addresses"),
		mdns: fs.Bool("mdns", true, "find devices on the LAN")}
}

// config is the pod's SyncConfig: nil with --p2p-listen off.
func (f syncFlags) config() (*pod.SyncConfig, error) {
	switch *f.listen {
	case "off":
		return nil, nil
	case "":
		return &pod.SyncConfig{MDNS: *f.mdns}, nil
	}
	var addrs []string
	for _, a := range strings.Split(*f.listen, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("--p2p-listen %q names no address", *f.listen)
	}
	return &pod.SyncConfig{ListenAddrs: addrs, MDNS: *f.mdns}, nil
}

// draftsFolder is the --drafts flag's folder: "" the default
// (~/Seedpod/Drafts), "off" none (returned as "").
func draftsFolder(flagValue string) (string, error) {
	switch flagValue {
	case "off":
		return "", nil
	case "":
		return drafts.DefaultFolder(os.Getenv)
	}
	abs, err := filepath.Abs(flagValue)
	if err != nil {
		return "", fmt.Errorf("--drafts %q: %w", flagValue, err)
	}
	return abs, nil
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "seedpod: %s\n\n%s", msg, usage)
	return 2
}

// parseFlags parses a mode's flags; ok is false with the exit code to return.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0, false
		}
		return usageError(stderr, err.Error()), false
	}
	if fs.NArg() > 0 {
		return usageError(stderr, fmt.Sprintf("unexpected argument %q", fs.Arg(0))), false
	}
	return 0, true
}

func window(args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("seedpod", flag.ContinueOnError)
	data := fs.String("data", "", "data directory")
	draftsFlag := fs.String("drafts", "", "drafts folder")
	syncFlags := addSyncFlags(fs)
	keyBits := fs.Int("test-key-bits", 0, "") // the desktop smoke test's first run makes a small key
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if !windowBuilt {
		fmt.Fprint(stderr, noWindowMessage)
		return 1
	}
	fed, err := federationConfig(addTestOutboundFlags(flag.NewFlagSet("", flag.ContinueOnError)), 0)
	if err != nil {
		fmt.Fprintf(stderr, "seedpod: %v\n", err)
		return 1
	}
	folder, err := draftsFolder(*draftsFlag)
	if err != nil {
		return usageError(stderr, err.Error())
	}
	sc, err := syncFlags.config()
	if err != nil {
		return usageError(stderr, err.Error())
	}
	p, err := pod.Open(context.Background(), pod.Config{DataDir: *data, Version: versionString(), Logger: log, Federation: fed,
		DraftsFolder: folder, Sync: sc, KeyBits: *keyBits})
	if err != nil {
		fmt.Fprintf(stderr, "seedpod: %v\n", err)
		return 1
	}
	defer p.Close()
	api, err := web.New(p, web.Options{Mode: web.ModeWindow, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "seedpod: %v\n", err)
		return 1
	}
	if err := runWindow(frontend.UI(), api, log); err != nil {
		fmt.Fprintf(stderr, "seedpod: %v\n", err)
		return 1
	}
	return 0
}

func serve(args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	data := fs.String("data", "", "data directory")
	listen := fs.String("listen", defaultListen, "loopback address to listen on")
	draftsFlag := fs.String("drafts", "", "drafts folder")
	syncFlags := addSyncFlags(fs)
	testOut := addTestOutboundFlags(fs)
	pollWait := fs.Duration("test-poll-wait", 0, "")
	keyBits := fs.Int("test-key-bits", 0, "")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	addr, err := loopbackAddr(*listen)
	if err != nil {
		return usageError(stderr, err.Error())
	}
	if testOut.on() {
		log.Warn("TEST MODE: outbound federation goes to loopback")
	}
	fed, err := federationConfig(testOut, *pollWait)
	if err != nil {
		return usageError(stderr, err.Error())
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	folder, err := draftsFolder(*draftsFlag)
	if err != nil {
		return usageError(stderr, err.Error())
	}
	sc, err := syncFlags.config()
	if err != nil {
		return usageError(stderr, err.Error())
	}
	p, err := pod.Open(ctx, pod.Config{DataDir: *data, Version: versionString(), Logger: log, Federation: fed, KeyBits: *keyBits,
		DraftsFolder: folder, Sync: sc})
	if err != nil {
		fmt.Fprintf(stderr, "seedpod: %v\n", err)
		return 1
	}
	defer p.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "seedpod: listen on %s: %v\n", addr, err)
		return 1
	}
	host := ln.Addr().String()
	ui := frontend.UI()
	h, err := web.New(p, web.Options{
		Mode:   web.ModeServe,
		Host:   host,
		UI:     ui,
		Logger: log,
		NewLoginLink: func(u string) {
			fmt.Fprintf(stdout, "Login link used. A fresh one-time link for another browser:\n  %s\n", u)
		},
	})
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "seedpod: %v\n", err)
		return 1
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	fmt.Fprintf(stdout, "Seedpod %s is serving your pod at http://%s/\n", versionString(), host)
	fmt.Fprintf(stdout, "Data: %s\n", p.DataDir())
	if ui == nil {
		fmt.Fprintln(stdout, "Note: this binary was built without the UI (run `make build`); the API works.")
	}
	fmt.Fprintf(stdout, "Open this one-time login link in your browser:\n  %s\n", h.LoginLink())

	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "seedpod: serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	return 0
}

// loopbackAddr accepts only loopback listen addresses: the pod's API holds
// the user's whole identity, and `serve` is for this machine's browser. To
// reach it from elsewhere, use an SSH tunnel.
func loopbackAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %v", s, err)
	}
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("--listen %q: serve listens on loopback only (127.0.0.1 or [::1]); use an SSH tunnel to reach it from another machine", s)
	}
	return net.JoinHostPort(ip.String(), port), nil
}
