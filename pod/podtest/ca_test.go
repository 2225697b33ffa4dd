package podtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCAServesHTTPSOnLoopbackUnderAName(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Leaf("relay.example", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.Host)
	}))
	cert, err := tlsPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = cert
	srv.StartTLS()
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]

	resp, err := ca.Client(5 * time.Second).Get("https://relay.example:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello relay.example:"+port {
		t.Fatalf("body %q", body)
	}
	// A name the certificate does not hold fails verification.
	if _, err := ca.Client(5 * time.Second).Get("https://other.example:" + port + "/"); err == nil {
		t.Fatal("a certificate for relay.example was accepted for other.example")
	}
	// A client that does not trust the CA refuses the server.
	if _, err := http.Get(srv.URL); err == nil {
		t.Fatal("the default client trusted the test CA")
	}
}
