package discover_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/federation/discover"
	"seedpod/pod/httpclient"
)

func TestFetchFromRelay(t *testing.T) {
	b := startRelay(t)
	d := newDiscoverer(t)
	for _, typ := range []string{"status_message", "post"} {
		doc, err := d.Fetch(context.Background(), b.host, typ, postGUID)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !bytes.Equal(doc, b.envelope) {
			t.Fatalf("%s: got another document:\n%s", typ, doc)
		}
		env, err := envelope.Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Verify(&bobKey.PublicKey); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	// Unknown GUID and a type the relay does not serve.
	for _, c := range []struct{ typ, guid string }{
		{"post", "ffffffffffffffffffffffffffffffff"},
		{"conversation", postGUID},
	} {
		_, err := d.Fetch(context.Background(), b.host, c.typ, c.guid)
		checkErr(t, err, discover.ErrNotFound)
	}
}

// hopper redirects /fetch/post/<postGUID> to itself (a relative Location)
// selfHops times, then to target (the owner pod, or for the refused cases
// a place that is not acceptable).
func hopper(t *testing.T, selfHops int32, target string) *fake {
	t.Helper()
	var hops atomic.Int32
	return startHandler(t, "alice.test", func(string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/fetch/post/"+postGUID {
				http.NotFound(w, r)
				return
			}
			loc := target
			if hops.Add(1) <= selfHops {
				loc = "/fetch/post/" + postGUID
			}
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusFound)
		})
	})
}

func TestFetchRedirects(t *testing.T) {
	b := startRelay(t)
	owner := "https://" + b.host + "/fetch/post/" + postGUID
	cases := []struct {
		name     string
		selfHops int32
		target   string
		want     error
	}{
		{"to the owner pod", 0, owner, nil},
		{"4 hops", 3, owner, nil},
		{"5 hops", 4, owner, discover.ErrInvalid},
		{"http", 0, "http://" + b.host + "/fetch/post/" + postGUID, discover.ErrInvalid},
		{"other path", 0, "https://" + b.host + "/posts/" + postGUID, discover.ErrInvalid},
		{"other type", 0, "https://" + b.host + "/fetch/status_message/" + postGUID, discover.ErrInvalid},
		{"other guid", 0, "https://" + b.host + "/fetch/post/ffffffffffffffffffffffffffffffff", discover.ErrInvalid},
		{"query", 0, owner + "?x=1", discover.ErrInvalid},
		{"userinfo", 0, "https://bob:pw@" + b.host + "/fetch/post/" + postGUID, discover.ErrInvalid},
		{"other scheme", 0, "ftp://" + b.host + "/fetch/post/" + postGUID, discover.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := hopper(t, c.selfHops, c.target)
			before := b.count.count("/fetch/post/" + postGUID)
			d := newDiscoverer(t)
			doc, err := d.Fetch(context.Background(), f.host, "post", postGUID)
			checkErr(t, err, c.want)
			reached := b.count.count("/fetch/post/"+postGUID) - before
			if c.want == nil {
				if !bytes.Equal(doc, b.envelope) {
					t.Fatalf("got another document:\n%s", doc)
				}
				if reached != 1 {
					t.Errorf("the owner pod was asked %d times", reached)
				}
			} else if reached != 0 {
				t.Errorf("a refused redirect reached the owner pod %d times", reached)
			}
		})
	}
}

func TestFetchRefused(t *testing.T) {
	b := startRelay(t)
	f := startFake(t, "mallory.test", func(h string) map[string]reply {
		big := bytes.Repeat([]byte("x"), 2<<20)
		return map[string]reply{
			"/fetch/post/" + postGUID:           ok([]byte("<html>not an envelope</html>")),
			"/fetch/comment/" + postGUID:        ok(big),
			"/fetch/status_message/" + postGUID: {status: http.StatusNoContent},
			"/fetch/reshare/" + postGUID:        {status: http.StatusInternalServerError},
			"/fetch/like/" + postGUID:           redirect(http.StatusFound, "https://evil.test/fetch/like/"+postGUID),
		}
	})
	d := newDiscoverer(t)
	before := b.count.total()
	for _, c := range []struct {
		name, host, typ, guid string
		want                  error
		also                  error
	}{
		{"not an envelope", f.host, "post", postGUID, discover.ErrInvalid, envelope.ErrEnvelope},
		{"oversized", f.host, "comment", postGUID, discover.ErrInvalid, httpclient.ErrTooLarge},
		{"204", f.host, "status_message", postGUID, errOther, nil},
		{"500", f.host, "reshare", postGUID, errOther, nil},
		{"redirect to a private address", f.host, "like", postGUID, errOther, httpclient.ErrForbiddenAddress},
		{"private address", "evil.test", "post", postGUID, errOther, httpclient.ErrForbiddenAddress},
		{"bad type", f.host, "Post", postGUID, discover.ErrInvalid, nil},
		{"type with a slash", f.host, "post/../x", postGUID, discover.ErrInvalid, nil},
		{"bad guid", f.host, "post", "short", discover.ErrInvalid, nil},
		{"guid with a slash", f.host, "post", postGUID + "/x", discover.ErrInvalid, nil},
		{"host with a path", b.host + "/x", "post", postGUID, discover.ErrInvalid, nil},
		{"URL as host", "https://" + b.host, "post", postGUID, discover.ErrInvalid, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.Fetch(context.Background(), c.host, c.typ, c.guid)
			checkErr(t, err, c.want)
			if c.also != nil && !errors.Is(err, c.also) {
				t.Fatalf("err = %v, want %v too", err, c.also)
			}
		})
	}
	if n := b.count.total() - before; n != 0 {
		t.Errorf("refused fetches reached the relay %d times", n)
	}
}

// N concurrent fetches of one entity make one request; each caller gets
// its own copy.
func TestFetchSingleflight(t *testing.T) {
	b := startRelay(t)
	d := newDiscoverer(t)
	path := "/fetch/status_message/" + postGUID
	release := b.count.holdAt(path)
	defer release()
	const n = 6
	docs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			docs[i], errs[i] = d.Fetch(context.Background(), b.host, "status_message", postGUID)
		}()
	}
	waitFor(t, func() bool { return d.FetchWaiters(b.host, "status_message", postGUID) == n })
	release()
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !bytes.Equal(docs[i], b.envelope) {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
	}
	if got := b.count.count(path); got != 1 {
		t.Fatalf("%d requests, want 1", got)
	}
	docs[0][0] = 'X'
	if docs[1][0] == 'X' {
		t.Fatal("callers share one byte slice")
	}
}
