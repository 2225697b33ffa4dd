package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"seedpod/pod"
	"seedpod/pod/keylock"
)

// The key routes over HTTP: state, lock, paper backup, a wrong passphrase,
// the lock removed again.
func TestKeyRoutes(t *testing.T) {
	p, err := pod.Open(context.Background(), pod.Config{DataDir: filepath.Join(t.TempDir(), "data"), KeyBits: 1024,
		KeyLock: &keylock.Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(p, Options{Mode: ModeWindow})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); p.Close() })
	r := (&apiRig{t: t, pod: p, srv: srv}).withIdentity()
	var k pod.KeyInfo
	for range 500 {
		r.json("GET", APIPrefix+"/keys", nil, http.StatusOK, &k)
		if k.State == "ready" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if k.State != "ready" || k.Locked || k.Fingerprint == "" || k.Storage != "file" {
		t.Fatalf("GET /keys: %+v", k)
	}
	r.json("POST", APIPrefix+"/keys/lock", map[string]string{"passphrase": ""}, http.StatusUnprocessableEntity, nil)
	r.json("POST", APIPrefix+"/keys/lock", map[string]string{"passphrase": "a long passphrase"}, http.StatusOK, &k)
	if !k.Locked || k.State != "ready" {
		t.Fatalf("after locking: %+v", k)
	}
	st, hdr, body := r.do("GET", APIPrefix+"/keys/paper", nil)
	if st != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || hdr.Get("Cache-Control") != "no-store" ||
		!strings.Contains(string(body), "<html") {
		t.Fatalf("GET /keys/paper: %d %v %.80q", st, hdr, body)
	}
	r.json("GET", APIPrefix+"/keys/paper?form=bogus", nil, http.StatusUnprocessableEntity, nil)
	r.json("POST", APIPrefix+"/keys/unlock", map[string]string{"passphrase": "wrong"}, http.StatusForbidden, nil)
	r.json("POST", APIPrefix+"/keys/restore", map[string]string{"text": "not a backup"}, http.StatusUnprocessableEntity, nil)
	r.json("DELETE", APIPrefix+"/keys/lock", map[string]string{"passphrase": "a long passphrase"}, http.StatusOK, &k)
	if k.Locked || k.BackedUpAt == nil {
		t.Fatalf("after removing the lock: %+v", k)
	}
}
