package httpclient

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"seedpod/pod/podtest"
)

// All servers here listen on 127.0.0.1 (httptest's default) and every
// Lookup hook maps names to loopback: no test sends traffic elsewhere.

func loopbackOnly(names ...string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		for _, n := range names {
			if host == n {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}
		}
		return nil, fmt.Errorf("test resolver: unknown host %q", host)
	}
}

func port(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestLoopbackRefusedUnlessAllowed(t *testing.T) {
	srv, hits := countingServer(t)
	for _, tc := range []struct {
		name  string
		allow bool
	}{{"refused", false}, {"allowed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{AllowLoopback: tc.allow, Timeout: 5 * time.Second})
			before := hits.Load()
			status, _, body, err := c.Get(context.Background(), srv.URL+"/", "")
			if !tc.allow {
				if !errors.Is(err, ErrForbiddenAddress) {
					t.Fatalf("err = %v, want ErrForbiddenAddress", err)
				}
				if !strings.Contains(err.Error(), "127.0.0.1") {
					t.Errorf("error %q does not name the address", err)
				}
				if hits.Load() != before {
					t.Fatal("the refused request reached the server")
				}
				return
			}
			if err != nil || status != 200 || string(body) != "ok" {
				t.Fatalf("got %d %q %v", status, body, err)
			}
		})
	}
}

// TestDNSRebinding: a name that resolves to loopback is refused at dial, on
// the resolved address, whatever the URL's host says.
func TestDNSRebinding(t *testing.T) {
	srv, hits := countingServer(t)
	u := "http://evil.example:" + port(t, srv.URL) + "/"
	for _, tc := range []struct {
		name   string
		allow  bool
		lookup func(context.Context, string) ([]netip.Addr, error)
	}{
		{"v4", false, loopbackOnly("evil.example")},
		{"v4 mapped", false, func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1")}, nil
		}},
		{"v6 and v4", false, func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{AllowLoopback: tc.allow, Lookup: tc.lookup, Timeout: 5 * time.Second})
			_, _, _, err := c.Get(context.Background(), u, "")
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("err = %v, want ErrForbiddenAddress", err)
			}
		})
	}
	if hits.Load() != 0 {
		t.Fatal("a refused request reached the server")
	}
	// The same hook with loopback allowed does reach it: the hook is used.
	c := New(Options{AllowLoopback: true, Lookup: loopbackOnly("evil.example"), Timeout: 5 * time.Second})
	if status, _, _, err := c.Get(context.Background(), u, ""); err != nil || status != 200 {
		t.Fatalf("allowed: %d %v", status, err)
	}
}

func TestNoProxyFromEnvironment(t *testing.T) {
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	srv, _ := countingServer(t)
	c := New(Options{AllowLoopback: true, Lookup: loopbackOnly("pod.example"), Timeout: 5 * time.Second})
	status, _, _, err := c.Get(context.Background(), "http://pod.example:"+port(t, srv.URL)+"/", "")
	if err != nil || status != 200 || proxied.Load() != 0 {
		t.Fatalf("status %d err %v proxied %d", status, err, proxied.Load())
	}
}

func TestTLS(t *testing.T) {
	ca, err := podtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := podtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Leaf("pod.example", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	newServer := func(cfg *tls.Config) string {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %x", r.Host, r.TLS.Version)
		}))
		srv.TLS = cfg
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return port(t, srv.URL)
	}
	p := newServer(&tls.Config{Certificates: []tls.Certificate{pair}})
	old := newServer(&tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})

	for _, tc := range []struct {
		name  string
		roots *x509.CertPool
		url   string
		ok    bool
	}{
		{"test CA trusted", ca.Pool(), "https://pod.example:" + p + "/", true},
		{"by IP", ca.Pool(), "https://127.0.0.1:" + p + "/", true},
		{"other CA only", other.Pool(), "https://pod.example:" + p + "/", false},
		{"system roots", nil, "https://pod.example:" + p + "/", false},
		{"name not in cert", ca.Pool(), "https://other.example:" + p + "/", false},
		{"TLS 1.1 server", ca.Pool(), "https://pod.example:" + old + "/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{AllowLoopback: true, RootCAs: tc.roots, Timeout: 5 * time.Second,
				Lookup: loopbackOnly("pod.example", "other.example")})
			status, _, body, err := c.Get(context.Background(), tc.url, "")
			if tc.ok {
				if err != nil || status != 200 {
					t.Fatalf("%d %v", status, err)
				}
				if !strings.HasSuffix(string(body), " 304") && !strings.HasSuffix(string(body), " 303") {
					t.Fatalf("TLS version in %q", body)
				}
				return
			}
			if err == nil {
				t.Fatal("connection succeeded")
			}
			t.Logf("refused: %v", err)
			var verr *tls.CertificateVerificationError
			if tc.name != "TLS 1.1 server" && !errors.As(err, &verr) {
				t.Fatalf("failed for the wrong reason: %v", err)
			}
		})
	}
	c := New(Options{RootCAs: ca.Pool()})
	cfg := c.HTTP().Transport.(*http.Transport).TLSClientConfig
	if cfg.RootCAs == nil || !cfg.RootCAs.Equal(ca.Pool()) || cfg.MinVersion != tls.VersionTLS12 || cfg.InsecureSkipVerify {
		t.Fatalf("TLS config %+v", cfg)
	}
}

// rawServer answers every connection with resp verbatim and closes it, for
// responses net/http's server will not produce (lying or absent framing).
func rawServer(t *testing.T, resp []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(conn)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				conn.Write(resp)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

func TestBodyCap(t *testing.T) {
	const max = 64 << 10
	big := bytes.Repeat([]byte("x"), 4*max)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte{0}, 64*max))
	zw.Close()

	handler := func(h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL + "/"
	}
	for _, tc := range []struct {
		name    string
		url     string
		want    int   // body length when ok
		upfront bool  // Do itself fails
		err     error // nil = ok
	}{
		{"exactly max", handler(func(w http.ResponseWriter, r *http.Request) { w.Write(big[:max]) }), max, false, nil},
		{"declared too large", handler(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		}), 0, true, ErrTooLarge},
		{"chunked huge", handler(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 8; i++ {
				w.Write(big[:max])
				w.(http.Flusher).Flush()
			}
		}), 0, false, ErrTooLarge},
		{"gzip bomb, small Content-Length", handler(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(gz.Len()))
			w.Write(gz.Bytes())
		}), 0, false, ErrTooLarge},
		{"no Content-Length, close-delimited", rawServer(t, append([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"), big...)), 0, false, ErrTooLarge},
		{"Content-Length lies low", rawServer(t, append([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"), big...)), 5, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{AllowLoopback: true, MaxBody: max, Timeout: 5 * time.Second})
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			resp, err := c.Do(req)
			if tc.upfront {
				if !errors.Is(err, tc.err) || resp != nil {
					t.Fatalf("Do = %v, %v; want %v up front", resp, err, tc.err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !errors.Is(err, tc.err) {
					t.Fatalf("read err = %v, want %v", err, tc.err)
				}
				if tc.err == nil && len(b) != tc.want {
					t.Fatalf("read %d bytes, want %d", len(b), tc.want)
				}
				if len(b) > max {
					t.Fatalf("read %d bytes past the cap", len(b))
				}
			}
			// The convenience helpers agree.
			_, _, b, err := c.Get(context.Background(), tc.url, "")
			if !errors.Is(err, tc.err) || (tc.err == nil && len(b) != tc.want) {
				t.Fatalf("Get: %d bytes, %v", len(b), err)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	wait := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	slowHead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { wait(r) }))
	defer slowHead.Close()
	slowBody := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("start"))
		w.(http.Flusher).Flush()
		wait(r)
	}))
	defer slowBody.Close()

	for _, tc := range []struct {
		name    string
		url     string
		timeout time.Duration // Options.Timeout
		ctx     time.Duration // 0 = no context deadline
	}{
		{"slow headers", slowHead.URL, 300 * time.Millisecond, 0},
		{"slow body", slowBody.URL, 300 * time.Millisecond, 0},
		{"context deadline", slowHead.URL, 30 * time.Second, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{AllowLoopback: true, Timeout: tc.timeout})
			ctx := context.Background()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			start := time.Now()
			_, _, _, err := c.Get(ctx, tc.url, "")
			if err == nil {
				t.Fatal("no error from a server that never finishes")
			}
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	defer other.Close()
	// /hop/N redirects to /hop/N-1; /hop/0 answers "done".
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/hop/0":
			io.WriteString(w, "done")
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
			http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1), http.StatusFound)
		case r.URL.Path == "/away":
			http.Redirect(w, r, other.URL+"/", http.StatusFound)
		case r.URL.Path == "/localhost":
			_, p, _ := net.SplitHostPort(r.Host)
			http.Redirect(w, r, "http://localhost:"+p+"/hop/0", http.StatusFound)
		}
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name   string
		path   string
		none   bool
		status int
		err    error
	}{
		{"same origin x1", "/hop/1", false, 200, nil},
		{"same origin x3", "/hop/3", false, 200, nil},
		{"same origin x4", "/hop/4", false, 0, ErrRedirect},
		{"other port", "/away", false, 0, ErrRedirect},
		{"other host same port", "/localhost", false, 0, ErrRedirect},
		{"NoRedirects", "/hop/1", true, 302, nil},
		{"NoRedirects away", "/away", true, 302, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{AllowLoopback: true, NoRedirects: tc.none, Timeout: 5 * time.Second})
			status, h, body, err := c.Get(context.Background(), srv.URL+tc.path, "")
			if !errors.Is(err, tc.err) || status != tc.status {
				t.Fatalf("got %d %v, want %d %v", status, err, tc.status, tc.err)
			}
			if tc.status == 200 && string(body) != "done" {
				t.Fatalf("body %q", body)
			}
			if tc.status == 302 && h.Get("Location") == "" {
				t.Fatal("302 without its Location")
			}
		})
	}
	if otherHits.Load() != 0 {
		t.Fatal("a cross-origin redirect was followed")
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://pod.example/a", "https://pod.example:443/b", true},
		{"http://pod.example/a", "http://pod.example:80/b", true},
		{"https://pod.example/a", "http://pod.example/a", false},
		{"https://pod.example/a", "https://pod.example:8443/a", false},
		{"https://pod.example/a", "https://evil.example/a", false},
		{"https://pod.example/a", "https://user@pod.example/a", true},
		{"http://127.0.0.1:80/", "http://localhost:80/", false},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := sameOrigin(a, b); got != tc.same {
			t.Errorf("sameOrigin(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

func TestUserAgentAndPost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo-Type", r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "%s|%s|%s", r.Method, r.UserAgent(), b)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"version", Options{Version: "1.2.3"}, "Seedpod/1.2.3"},
		{"no version", Options{}, "Seedpod/dev"},
		{"explicit", Options{UserAgent: "Seedpod/9 (+https://pod.example)"}, "Seedpod/9 (+https://pod.example)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.AllowLoopback = true
			c := New(tc.o)
			status, h, body, err := c.PostBody(context.Background(), srv.URL, "application/magic-envelope+xml", []byte("<me/>"))
			if err != nil || status != 202 || h.Get("X-Echo-Type") != "application/magic-envelope+xml" ||
				string(body) != "POST|"+tc.want+"|<me/>" {
				t.Fatalf("%d %v %q %v", status, h, body, err)
			}
		})
	}
	// A caller's own User-Agent is kept, and Do does not modify the request.
	c := New(Options{AllowLoopback: true})
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.ReadBody(resp)
	if string(b) != "GET|Seedpod/dev|" || req.Header.Get("User-Agent") != "" {
		t.Fatalf("%q, request header %q", b, req.Header.Get("User-Agent"))
	}
	req.Header.Set("User-Agent", "custom")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := c.ReadBody(resp); string(b) != "GET|custom|" {
		t.Fatalf("%q", b)
	}
}

func TestSchemeRefused(t *testing.T) {
	c := New(Options{AllowLoopback: true})
	for _, u := range []string{"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1/"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("%s was fetched", u)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	srv, hits := countingServer(t)
	c := New(Options{AllowLoopback: true, Timeout: 5 * time.Second})
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, _, _, err := c.Get(context.Background(), srv.URL, ""); err != nil || status != 200 {
				t.Errorf("%d %v", status, err)
			}
		}()
	}
	wg.Wait()
	if hits.Load() != 32 {
		t.Fatalf("%d hits", hits.Load())
	}
}
