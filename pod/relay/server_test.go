package relay

import (
	"bufio"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Slow clients are cut off: headers that dribble in lose the connection,
// a body that dribbles in gets 408.
func TestSlowRequestsAreCutOff(t *testing.T) {
	r, err := Open(context.Background(), Config{Domain: domain, DataDir: filepath.Join(t.TempDir(), "relay")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv := r.HTTPServer(nil, Timeouts{Header: 300 * time.Millisecond, Read: 600 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	// Slow headers.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "POST /receive/public HTTP/1.1\r\nHost: relay.example\r\n")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	c.Close()
	if time.Since(start) > 3*time.Second {
		t.Fatalf("a client sending half its headers held the connection %v", time.Since(start))
	}
	if len(b) > 0 && !strings.Contains(string(b), "408") && !strings.Contains(string(b), "400") {
		t.Fatalf("slow headers answered %q", b)
	}

	// Slow body: the headers promise 1000 bytes, 10 arrive.
	c, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /receive/public HTTP/1.1\r\nHost: relay.example\r\nContent-Length: 1000\r\n\r\n<me:env>xx")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, "408") {
		t.Fatalf("slow body: status line %q, %v; want 408", line, err)
	}
}
