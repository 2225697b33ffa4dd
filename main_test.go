package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"seedpod/pod/diaspora/discovery"
	"seedpod/pod/relay"
	"seedpod/pod/store"
)

// With SEEDPOD_TEST_MAIN=1 the test binary is the seedpod binary, so the
// tests below start real processes without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("SEEDPOD_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestModes(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		code       int
		stdoutHas  string
		stderrHas  string
		stdoutNone bool
	}{
		{"version", []string{"version"}, 0, "seedpod 0.1.0", "", false},
		{"help", []string{"help"}, 0, "seedpod serve", "", false},
		{"-h", []string{"-h"}, 0, "Usage:", "", false},
		{"serve -h", []string{"serve", "-h"}, 0, "Usage:", "", false},
		{"unknown mode", []string{"frobnicate"}, 2, "", `unknown mode "frobnicate"`, true},
		{"unknown flag", []string{"serve", "--frob"}, 2, "", "flag provided but not defined: -frob", true},
		{"unknown window flag", []string{"--frob"}, 2, "", "Usage:", true},
		{"extra argument", []string{"serve", "extra"}, 2, "", `unexpected argument "extra"`, true},
		{"version with argument", []string{"version", "x"}, 2, "", "Usage:", true},
		{"non-loopback listen", []string{"serve", "--listen", "0.0.0.0:7474"}, 2, "", "loopback only", true},
		{"private listen", []string{"serve", "--listen", "192.168.1.2:7474"}, 2, "", "loopback only", true},
		{"listen without port", []string{"serve", "--listen", "127.0.0.1"}, 2, "", "--listen", true},
		{"p2p-listen without addresses", []string{"serve", "--listen", "127.0.0.1:0", "--p2p-listen", " , "}, 2, "", "--p2p-listen", true},
		{"proto help", []string{"proto", "help"}, 0, "verify-public", "", false},
		{"relay without domain", []string{"relay"}, 2, "", "--domain and either --acme or both --tls-cert and --tls-key", true},
		{"relay with both acme and files", []string{"relay", "--domain", "r.example", "--acme", "--tls-cert", "c", "--tls-key", "k"}, 2, "", "either --acme", true},
		{"relay with only a certificate", []string{"relay", "--domain", "r.example", "--tls-cert", "c"}, 2, "", "either --acme", true},
		{"relay with a missing certificate", []string{"relay", "--domain", "r.example", "--tls-cert", "/nonexistent", "--tls-key", "/nonexistent"}, 2, "", "TLS certificate", true},
		{"relay invite without username", []string{"relay", "invite"}, 2, "", "which username", true},
		{"relay invite with a bad username", []string{"relay", "invite", "Not Valid", "--data", "/nonexistent-seedpod-test"}, 1, "", "username", true},
		{"proto unknown command", []string{"proto", "frob"}, 2, "", `unknown command "frob"`, true},
		{"proto without command", []string{"proto"}, 2, "", "Usage: seedpod proto", true},
	}
	if !windowBuilt {
		cases = append(cases, struct {
			name       string
			args       []string
			code       int
			stdoutHas  string
			stderrHas  string
			stdoutNone bool
		}{"window not built", nil, 1, "", "make build-desktop", true})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			if code != c.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, c.code, errb.String())
			}
			if !strings.Contains(out.String(), c.stdoutHas) {
				t.Errorf("stdout %q lacks %q", out.String(), c.stdoutHas)
			}
			if !strings.Contains(errb.String(), c.stderrHas) {
				t.Errorf("stderr %q lacks %q", errb.String(), c.stderrHas)
			}
			if c.stdoutNone && out.Len() > 0 {
				t.Errorf("stdout should be empty on error, got %q", out.String())
			}
		})
	}
}

type serveProc struct {
	cmd    *exec.Cmd
	base   string
	login  string
	stderr *bytes.Buffer
	lines  chan string
}

var loginRE = regexp.MustCompile(`^\s+(http://\S+/login\?token=\S+)$`)

func startServe(t *testing.T, data string) *serveProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--data", data, "--listen", "127.0.0.1:0",
		"--drafts", filepath.Join(filepath.Dir(data), "Drafts"), "--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false")
	cmd.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1")
	stdout, _ := cmd.StdoutPipe()
	sp := &serveProc{cmd: cmd, stderr: &bytes.Buffer{}, lines: make(chan string, 16)}
	cmd.Stderr = sp.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			sp.lines <- sc.Text()
		}
		close(sp.lines)
	}()
	deadline := time.After(20 * time.Second)
	for sp.login == "" {
		select {
		case l, ok := <-sp.lines:
			if !ok {
				t.Fatalf("serve exited before printing a login link; stderr:\n%s", sp.stderr)
			}
			if m := regexp.MustCompile(`serving your pod at (http://\S+/)`).FindStringSubmatch(l); m != nil {
				sp.base = strings.TrimSuffix(m[1], "/")
			}
			if m := loginRE.FindStringSubmatch(l); m != nil {
				sp.login = m[1]
			}
		case <-deadline:
			t.Fatalf("serve printed no login link in 20s; stderr:\n%s", sp.stderr)
		}
	}
	return sp
}

// A real `seedpod serve` process: it prints the URL and a login link, the
// link opens the API, a second process on the same data dir is refused, and
// SIGTERM stops it cleanly.
func TestServeProcess(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	sp := startServe(t, data)
	if !strings.HasPrefix(sp.base, "http://127.0.0.1:") || !strings.HasPrefix(sp.login, sp.base+"/login?token=") {
		t.Fatalf("base %q, login %q", sp.base, sp.login)
	}

	client := &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(sp.base + "/api/seedpod/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status without session: %d, want 401", resp.StatusCode)
	}
	resp, err = client.Get(sp.login)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, cookies)
	}
	req, _ := http.NewRequest("GET", sp.base+"/api/seedpod/v1/status", nil)
	req.AddCookie(cookies[0])
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var st struct {
		Version       string `json:"version"`
		DataDir       string `json:"data_dir"`
		SchemaVersion int    `json:"schema_version"`
	}
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status: %d %s", resp.StatusCode, body)
	}
	if st.DataDir != data || st.SchemaVersion != store.LatestVersion() || !strings.HasPrefix(st.Version, "0.1.0") {
		t.Errorf("status = %+v", st)
	}
	// After the link was used, a fresh one is printed.
	select {
	case l := <-sp.lines:
		if !strings.Contains(l, "fresh one-time link") {
			t.Errorf("after login, stdout said %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Error("no fresh login link printed after login")
	}

	// A second process on the same data dir is refused.
	second := exec.Command(os.Args[0], "serve", "--data", data, "--listen", "127.0.0.1:0",
		"--drafts", filepath.Join(filepath.Dir(data), "Drafts"), "--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false")
	second.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1")
	out, err := second.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "in use by another Seedpod process") {
		t.Errorf("second serve: err %v, output %q; want exit 1 saying the data dir is in use", err, out)
	}

	sp.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- sp.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v; stderr:\n%s", err, sp.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10s of SIGTERM")
	}
}

// `seedpod proto` from outside, as a real process: the exit codes and the
// JSON verdict are the interface scripts rely on.
func TestProtoProcess(t *testing.T) {
	vec := filepath.Join("..", "shared", "vectors")
	if _, err := os.Stat(vec); err != nil {
		t.Fatalf("protocol vectors beside the checkout: %v", err)
	}
	alice := "alice@pod-a.example=" + filepath.Join(vec, "keys/alice_integration_spec_rsa1024.public.pem")
	for _, c := range []struct {
		envelope string
		code     int
		has      string
	}{
		{"generated/envelopes/public_status_message.xml", 0, `"ok":true,"type":"status_message"`},
		{"generated/negative/tampered_data.xml", 1, `"stage":"signature"`},
		{"generated/negative/wrong_data_type.xml", 1, `"stage":"envelope"`},
	} {
		cmd := exec.Command(os.Args[0], "proto", "verify-public", "--envelope", filepath.Join(vec, c.envelope), "--pubkey-for", alice)
		cmd.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1")
		out, err := cmd.Output()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.Contains(string(out), c.has) {
			t.Errorf("%s: exit %d, stdout %s; want exit %d with %s", c.envelope, code, out, c.code, c.has)
		}
	}
	cmd := exec.Command(os.Args[0], "proto", "verify-public")
	cmd.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1")
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("usage error: %v, want exit 2", err)
	}
}

// A real `seedpod relay` process over HTTPS with a test CA on loopback: an
// invite made by a second process while it runs, enrollment, a delivery
// from a remote pod, a pull, discovery, and a clean stop.
func TestRelayProcess(t *testing.T) {
	f := newRelayFixture(t)
	p := f.start() // production defaults: rate limiting on
	defer p.kill()
	send := func(method, path string, body []byte, signed bool) (int, []byte) {
		st, b, err := f.send(p.port, method, path, body, signed)
		if err != nil {
			t.Fatal(err)
		}
		return st, b
	}
	// The invite comes from a second process while the relay runs.
	f.enroll(p.port)
	env, err := os.ReadFile(filepath.Join("..", "shared", "vectors", "generated", "envelopes", "public_status_message.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if st, b := send("POST", "/receive/public", env, false); st != 202 {
		t.Fatalf("delivery: %d %s", st, b)
	}
	st, b := send("GET", relay.OwnerPrefix+"/inbox", nil, true)
	var page relay.InboxPage
	if err := json.Unmarshal(b, &page); st != 200 || err != nil || len(page.Items) != 1 || !bytes.Equal(page.Items[0].Body, env) {
		t.Fatalf("pull: %d %s", st, b)
	}
	ack, _ := json.Marshal(relay.AckRequest{UpTo: page.Cursor})
	if st, b := send("POST", relay.OwnerPrefix+"/inbox/ack", ack, true); st != 200 {
		t.Fatalf("ack: %d %s", st, b)
	}
	st, b = send("GET", relay.OwnerPrefix+"/inbox", nil, true)
	if err := json.Unmarshal(b, &page); st != 200 || err != nil || len(page.Items) != 0 {
		t.Fatalf("pull after ack: %d %s", st, b)
	}
	st, b = send("GET", "/.well-known/webfinger?resource=acct:alice@relay.example", nil, false)
	if _, err := discovery.ParseJRD(b, "alice@relay.example"); st != 200 || err != nil {
		t.Fatalf("webfinger: %d %v", st, err)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("relay after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("relay did not stop within 15 s of SIGTERM")
	}
}

// With --acme the relay obtains certificates only for its own domain: a TLS
// handshake for any other name is refused before any ACME traffic (this
// test never lets a handshake for the domain itself happen, so nothing
// leaves the machine).
func TestRelayACMERefusesOtherHosts(t *testing.T) {
	data := t.TempDir()
	cmd := exec.Command(os.Args[0], "relay", "--domain", "relay.example", "--acme", "--listen", "127.0.0.1:0", "--data", data, "--p2p-listen", "off")
	cmd.Env = append(os.Environ(), "SEEDPOD_TEST_MAIN=1")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	var addr string
	for addr == "" && sc.Scan() {
		if m := regexp.MustCompile(`listening on https://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("relay with --acme did not start")
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "other.example"})
	if err == nil {
		conn.Close()
		t.Fatal("a TLS handshake for another host succeeded")
	}
	t.Logf("handshake for other.example refused: %v", err)
}
