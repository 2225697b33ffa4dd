package ownerauth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"seedpod/pod/diaspora/keys"
)

// Keys are generated once per test binary: 4096-bit generation alone takes
// about a second.
var (
	aliceKey     = sync.OnceValue(func() *rsa.PrivateKey { return mustGenerate(2048) })
	bobKey       = sync.OnceValue(func() *rsa.PrivateKey { return mustGenerate(2048) })
	carolKey4096 = sync.OnceValue(func() *rsa.PrivateKey { return mustGenerate(4096) })
)

func mustGenerate(bits int) *rsa.PrivateKey {
	k, err := keys.Generate(bits)
	if err != nil {
		panic(err)
	}
	return k
}

const (
	alice = "alice@relay.test"
	bob   = "bob"
	carol = "carol:4096"
)

// t0 is the rig's starting time; a whole second so timestamps are exact.
var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock shared by a Verifier and its MemoryNonces.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

type rig struct {
	clock  *fakeClock
	nonces *MemoryNonces
	v      *Verifier
}

func newRig(tb testing.TB) *rig {
	tb.Helper()
	pubs := map[string]*rsa.PublicKey{
		alice: &aliceKey().PublicKey,
		bob:   &bobKey().PublicKey,
		carol: &carolKey4096().PublicKey,
	}
	c := &fakeClock{t: t0}
	n := &MemoryNonces{Now: c.Now}
	return &rig{
		clock:  c,
		nonces: n,
		v: &Verifier{
			Keys: func(_ context.Context, id string) (*rsa.PublicKey, bool, error) {
				k, ok := pubs[id]
				return k, ok, nil
			},
			Nonces: n,
			Now:    c.Now,
		},
	}
}

// signedReq returns a server-side request for target (a path, or an absolute
// URL), signed as identity with key at now.
func signedReq(tb testing.TB, method, target string, body []byte, identity string, key *rsa.PrivateKey, now time.Time) *http.Request {
	tb.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if err := Sign(req, body, identity, key, now); err != nil {
		tb.Fatalf("Sign: %v", err)
	}
	return req
}
