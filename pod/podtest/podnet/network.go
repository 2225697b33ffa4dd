// Package podnet is the multi-pod test rig: a diaspora* network on
// loopback of real relays (HTTPS with pod/podtest's CA, names like
// bob.test:port resolving to 127.0.0.1) and in-process pods federating
// through them. Test code only. It is apart from pod/podtest because it
// imports the relay, the pod and the HTTP client, whose own tests use
// podtest's CA.
package podnet

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/httpclient"
	"seedpod/pod/podtest"
	"seedpod/pod/relay"
	"seedpod/pod/relayclient"
)

// Network is a diaspora* network on loopback: relays serving real HTTPS
// under their own host names (name.test:port, every name resolving to
// 127.0.0.1 in the rig's clients) with certificates from one test CA, and
// pods (in-process, each with its own data directory) federating through
// them. Nothing leaves 127.0.0.1.
type Network struct {
	t      testing.TB
	CA     *podtest.CA
	CAFile string
	dir    string
	// RelayP2P: relays started from now on run their circuit relay for
	// devices (on loopback).
	RelayP2P bool

	mu     sync.Mutex
	relays []*RelayNode
	pods   []*PodNode
}

// NewNetwork builds an empty network; everything stops when the test ends.
func NewNetwork(t testing.TB) *Network {
	t.Helper()
	ca, err := podtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &Network{t: t, CA: ca, CAFile: caFile, dir: dir}
	t.Cleanup(n.close)
	return n
}

func (n *Network) close() {
	n.mu.Lock()
	pods, relays := n.pods, n.relays
	n.mu.Unlock()
	for _, p := range pods {
		p.Stop()
	}
	for _, r := range relays {
		r.Stop()
	}
}

// ClientOptions are httpclient options for this network: loopback allowed,
// every name resolving to 127.0.0.1, only the test CA trusted.
func (n *Network) ClientOptions(base httpclient.Options) httpclient.Options {
	base.AllowLoopback = true
	base.RootCAs = n.CA.Pool()
	base.Lookup = func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return base
}

// RelayNode is a relay of the network.
type RelayNode struct {
	Name   string // "alice" → host alice.test
	Domain string // alice.test:port
	URL    string // https://alice.test:port
	Relay  *relay.Relay
	Data   string
	srv    *httptest.Server
	once   *sync.Once
	net    *Network
}

// FreePort reserves a loopback port and releases it for the caller.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// Relay starts a relay for name.test on a free loopback port.
func (n *Network) Relay(name string) *RelayNode {
	t := n.t
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rn := n.startRelay(name, ln)
	n.mu.Lock()
	n.relays = append(n.relays, rn)
	n.mu.Unlock()
	return rn
}

// Restart starts a stopped relay again, on its port and with its data.
func (r *RelayNode) Restart(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", "127.0.0.1:"+r.Domain[strings.LastIndexByte(r.Domain, ':')+1:]); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("restart relay %s: %v", r.Name, err)
	}
	n := r.net.startRelay(r.Name, ln)
	r.Relay, r.srv, r.once = n.Relay, n.srv, n.once
}

func (n *Network) startRelay(name string, ln net.Listener) *RelayNode {
	t := n.t
	host := name + ".test"
	domain := fmt.Sprintf("%s:%d", host, ln.Addr().(*net.TCPAddr).Port)
	data := filepath.Join(n.dir, "relay-"+name)
	out := httpclient.New(n.ClientOptions(httpclient.Options{NoRedirects: true, Timeout: 10 * time.Second}))
	var p2pListen []string
	if n.RelayP2P {
		p2pListen = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	r, err := relay.Open(context.Background(), relay.Config{Domain: domain, DataDir: data, Version: "test", Logger: testLogger("relay-" + name),
		Outbound: out, NoRateLimit: true, P2PListen: p2pListen})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	certPEM, keyPEM, err := n.CA.Leaf(host)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv := httptest.NewUnstartedServer(r.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = tc
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	return &RelayNode{Name: name, Domain: domain, URL: "https://" + domain, Relay: r, Data: data, srv: srv, once: &sync.Once{}, net: n}
}

// Invite makes an enrolment code for username.
func (r *RelayNode) Invite(t testing.TB, username string) string {
	t.Helper()
	code, err := relay.Invite(context.Background(), r.Data, username, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// Stop stops the relay.
func (r *RelayNode) Stop() {
	r.once.Do(func() {
		r.srv.Close()
		r.Relay.Close()
	})
}

// PodNode is an in-process pod of the network.
type PodNode struct {
	Name string
	Pod  *pod.Pod
	Data string
	once sync.Once
}

// PodOptions tune a pod of the network.
type PodOptions struct {
	// KeyBits of the identity key (default 2048: relays refuse less).
	KeyBits int
	// PollWait of inbox pulls (default 2 s: tests notice stops quickly).
	PollWait time.Duration
	// Sync turns device sync on (loopback addresses only).
	Sync *pod.SyncConfig
}

// Pod opens a pod named name (an identity is not created yet).
func (n *Network) Pod(name string, o PodOptions) *PodNode {
	t := n.t
	t.Helper()
	if o.KeyBits == 0 {
		o.KeyBits = 2048
	}
	if o.PollWait == 0 {
		o.PollWait = 2 * time.Second
	}
	data := filepath.Join(n.dir, "pod-"+name)
	out := httpclient.New(n.ClientOptions(httpclient.Options{NoRedirects: true, Timeout: 10 * time.Second}))
	rc := httpclient.New(n.ClientOptions(relayclient.HTTPOptions(httpclient.Options{NoRedirects: true, Timeout: o.PollWait + 10*time.Second})))
	p, err := pod.Open(context.Background(), pod.Config{DataDir: data, Version: "test", KeyBits: o.KeyBits, Logger: testLogger(name),
		Federation: &pod.FederationConfig{Outbound: out, Relay: rc, PollWait: o.PollWait, Backoff: 200 * time.Millisecond}, Sync: o.Sync})
	if err != nil {
		t.Fatal(err)
	}
	pn := &PodNode{Name: name, Pod: p, Data: data}
	n.mu.Lock()
	n.pods = append(n.pods, pn)
	n.mu.Unlock()
	return pn
}

// Stop closes the pod.
func (p *PodNode) Stop() {
	p.once.Do(func() { p.Pod.Close() })
}

// Join creates the pod's identity (username = the pod's name), waits for
// its key, and enrols it with the relay: the identity is then
// name@relay-domain.
func (p *PodNode) Join(t testing.TB, r *RelayNode) string {
	t.Helper()
	ctx := context.Background()
	if _, err := p.Pod.CreateIdentity(ctx, strings.ToUpper(p.Name[:1])+p.Name[1:], p.Name); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		id, err := p.Pod.Identity(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id.Key.State == "ready" {
			break
		}
		if id.Key.State == "failed" || time.Now().After(deadline) {
			t.Fatalf("%s: identity key: %+v", p.Name, id.Key)
		}
		time.Sleep(20 * time.Millisecond)
	}
	handle, err := p.Pod.EnrollRelay(ctx, r.URL, r.Invite(t, p.Name), p.Name)
	if err != nil {
		t.Fatalf("%s: enrol with %s: %v", p.Name, r.URL, err)
	}
	return handle
}

// Eventually polls cond until it holds or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last error: %v)", what, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testLogger logs to stderr when PODTEST_LOG is set (debug with
// PODTEST_LOG=debug), else nowhere.
func testLogger(name string) *slog.Logger {
	v := os.Getenv("PODTEST_LOG")
	if v == "" {
		return nil
	}
	level := slog.LevelInfo
	if v == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", name)
}
