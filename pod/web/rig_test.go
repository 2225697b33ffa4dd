package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"seedpod/pod"
)

// apiRig is a real pod (SQLite in a temp dir) behind the real handler on a
// loopback port, in window mode (no session: the API's own rules only).
type apiRig struct {
	t   testing.TB
	pod *pod.Pod
	srv *httptest.Server
}

func newAPIRig(t testing.TB) *apiRig {
	t.Helper()
	p, err := pod.Open(context.Background(), pod.Config{DataDir: filepath.Join(t.TempDir(), "data"), KeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(p, Options{Mode: ModeWindow})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h) // 127.0.0.1, random port
	t.Cleanup(func() {
		srv.Close()
		p.Close()
	})
	return &apiRig{t: t, pod: p, srv: srv}
}

// withIdentity creates the identity "Alice" (alice).
func (r *apiRig) withIdentity() *apiRig {
	r.t.Helper()
	if _, err := r.pod.CreateIdentity(context.Background(), "Alice", "alice"); err != nil {
		r.t.Fatal(err)
	}
	return r
}

// do sends a request with an optional JSON body (a string is sent as is)
// and returns the status, headers and body.
func (r *apiRig) do(method, path string, body any) (int, http.Header, []byte) {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

// json sends a request, checks the status and decodes the body into out
// (when out is not nil).
func (r *apiRig) json(method, path string, body any, want int, out any) []byte {
	r.t.Helper()
	st, _, b := r.do(method, path, body)
	if st != want {
		r.t.Fatalf("%s %s: status %d, want %d: %s", method, path, st, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			r.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return b
}

// opCount is the number of stored ops: a refused request must not add any.
func (r *apiRig) opCount() int {
	r.t.Helper()
	var n int
	if err := r.pod.DB().R.QueryRow("SELECT count(*) FROM ops").Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// dumpQueries runs the queries and prints every row, one table after
// another: a text to compare before and after a refold.
func (r *apiRig) dumpQueries(queries ...string) string {
	r.t.Helper()
	var sb strings.Builder
	for _, q := range queries {
		rows, err := r.pod.DB().R.Query(q)
		if err != nil {
			r.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				r.t.Fatal(err)
			}
			fmt.Fprintln(&sb, vals...)
		}
		rows.Close()
		sb.WriteString("--\n")
	}
	return sb.String()
}
