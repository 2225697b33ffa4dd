package discover_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"seedpod/pod/diaspora/discovery"
	"seedpod/pod/federation/discover"
	"seedpod/pod/httpclient"
	"seedpod/pod/store"
)

// Bob on a real relay: JRD, then the relay's hCard.
func TestPersonFromRelay(t *testing.T) {
	b := startRelay(t)
	d := newDiscoverer(t)
	rec, err := d.Person(context.Background(), "acct:Bob@BOB.test:"+strings.Split(b.host, ":")[1])
	if err != nil {
		t.Fatal(err)
	}
	want := store.PersonRecord{GUID: bobGUID, DiasporaID: b.id, PublicKey: pemOf(&bobKey.PublicKey),
		FirstName: "Bob", LastName: "Builder", AvatarLarge: "https://cdn.test/bob/large.jpg",
		Searchable: true, FetchedAt: fixedNow.UnixMilli()}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("record:\n got %+v\nwant %+v", rec, want)
	}
	if n := b.count.count("/.well-known/host-meta"); n != 0 {
		t.Errorf("legacy path tried %d times after a good JRD", n)
	}
	if _, _, err := rec.Encode(); err != nil {
		t.Errorf("the record does not encode: %v", err)
	}
}

// An unknown user on the relay: the JRD is 404, the relay's host-meta
// leads to its XRD endpoint, which is 404 too.
func TestPersonUnknownOnRelay(t *testing.T) {
	b := startRelay(t)
	d := newDiscoverer(t)
	_, err := d.Person(context.Background(), "nobody@"+b.host)
	if !errors.Is(err, discover.ErrNotFound) {
		t.Fatalf("err = %v, want discover.ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "nobody@"+b.host) {
		t.Errorf("error does not name the ID: %v", err)
	}
	if b.count.count("/.well-known/webfinger.xml") != 1 {
		t.Errorf("legacy XRD not tried: %v", b.count.hits)
	}
}

func TestPersonCases(t *testing.T) {
	testKeys(t)
	b := startRelay(t)
	type routes = func(t *testing.T, host string) map[string]reply
	cases := []struct {
		name   string
		routes routes
		want   error // nil: success
		check  func(t *testing.T, rec store.PersonRecord, f *fake)
	}{
		{name: "legacy XRD after a 404", routes: func(t *testing.T, h string) map[string]reply { return legacyCarol(t, h, nil) },
			check: func(t *testing.T, rec store.PersonRecord, f *fake) {
				want := store.PersonRecord{GUID: carolGUID, DiasporaID: "carol@" + f.host, PublicKey: pemOf(&carolKey.PublicKey),
					FirstName: "Carol", LastName: "Danvers", Searchable: true, FetchedAt: fixedNow.UnixMilli(),
					AvatarLarge: "https://" + f.host + "/uploads/l_carol.png", AvatarMedium: "https://" + f.host + "/uploads/m_carol.png"}
				if !reflect.DeepEqual(rec, want) {
					t.Errorf("record:\n got %+v\nwant %+v", rec, want)
				}
				if f.count.count("/.well-known/webfinger") != 1 || f.count.count("/.well-known/webfinger.xml") != 1 {
					t.Errorf("requests: %v", f.count.hits)
				}
			}},
		{name: "legacy XRD after a non-JRD 200", routes: func(t *testing.T, h string) map[string]reply {
			r := legacyCarol(t, h, nil)
			r["/.well-known/webfinger"] = ok([]byte("<html><body>hello</body></html>"))
			return r
		}, check: func(t *testing.T, rec store.PersonRecord, f *fake) {
			if rec.GUID != carolGUID {
				t.Errorf("guid %q", rec.GUID)
			}
		}},
		{name: "JRD on a fake pod", routes: func(t *testing.T, h string) map[string]reply { return jrdCarol(t, h, nil) },
			check: func(t *testing.T, rec store.PersonRecord, f *fake) {
				if rec.GUID != carolGUID || rec.PublicKey != pemOf(&carolKey.PublicKey) {
					t.Errorf("record %+v", rec)
				}
			}},
		{name: "same-host redirect followed", routes: func(t *testing.T, h string) map[string]reply {
			r := jrdCarol(t, h, nil)
			r["/.well-known/webfinger"], r["/webfinger"] = redirect(http.StatusMovedPermanently, "/webfinger?resource=acct:carol@"+h), r["/.well-known/webfinger"]
			return r
		}},
		{name: "only fn in the hCard", routes: func(t *testing.T, h string) map[string]reply {
			return jrdCarol(t, h, func(_ *discovery.WebFinger, hc *discovery.HCard) { hc.FirstName, hc.LastName = "", "" })
		}, check: func(t *testing.T, rec store.PersonRecord, f *fake) {
			if rec.FirstName != "Carol Danvers" || rec.LastName != "" {
				t.Errorf("names %q %q", rec.FirstName, rec.LastName)
			}
		}},

		{name: "JRD about another ID", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			return jrdCarol(t, h, func(wf *discovery.WebFinger, _ *discovery.HCard) { wf.ID = "mallory@" + h })
		}},
		{name: "XRD about another ID", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			return legacyCarol(t, h, func(wf *discovery.WebFinger, _ *discovery.HCard) { wf.ID = "carol@mallory.test" })
		}},
		{name: "JRD about the same user on another host", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			return jrdCarol(t, h, func(wf *discovery.WebFinger, _ *discovery.HCard) { wf.ID = "carol@" + b.host })
		}},
		{name: "hCard on another host", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			// bob's real, valid hCard on the relay: still refused.
			return jrdCarol(t, h, func(wf *discovery.WebFinger, _ *discovery.HCard) {
				wf.HCardURL = "https://" + b.host + "/hcard/users/" + bobGUID
			})
		}},
		{name: "hCard on the same host name, another port", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			return jrdCarol(t, h, func(wf *discovery.WebFinger, _ *discovery.HCard) {
				wf.HCardURL = "https://carol.test:1/hcard/users/" + carolGUID
			})
		}},
		{name: "hCard over http", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			return jrdCarol(t, h, func(wf *discovery.WebFinger, _ *discovery.HCard) {
				wf.HCardURL = "http://" + h + "/hcard/users/" + carolGUID
			})
		}},
		{name: "seed location on another host", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			return jrdCarol(t, h, func(wf *discovery.WebFinger, _ *discovery.HCard) { wf.SeedURL = "https://" + b.host + "/" })
		}},
		{name: "lrdd template on another host", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			r := legacyCarol(t, h, nil)
			hm, _ := discovery.HostMeta("https://" + b.host)
			r["/.well-known/host-meta"] = ok(hm)
			return r
		}},
		{name: "webfinger redirect to another host", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			r := jrdCarol(t, h, nil)
			r["/.well-known/webfinger"] = redirect(http.StatusFound, "https://"+b.host+"/.well-known/webfinger?resource=acct:bob@"+b.host)
			return r
		}},
		{name: "webfinger redirect to http", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			r := jrdCarol(t, h, nil)
			r["/.well-known/webfinger"] = redirect(http.StatusFound, "http://"+h+"/webfinger")
			return r
		}},
		{name: "redirect loop", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			return map[string]reply{"/.well-known/webfinger": redirect(http.StatusFound, "/.well-known/webfinger?again")}
		}},
		{name: "1024-bit key", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			return jrdCarol(t, h, func(_ *discovery.WebFinger, hc *discovery.HCard) { hc.PublicKey = &weakKey.PublicKey })
		}},
		{name: "hCard without a key", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			r := jrdCarol(t, h, nil)
			card := r["/hcard/users/"+carolGUID]
			card.body = []byte(strings.Replace(string(card.body), "BEGIN PUBLIC KEY", "BEGIN NONSENSE", 1))
			r["/hcard/users/"+carolGUID] = card
			return r
		}},
		{name: "JRD over the document size", want: discover.ErrInvalid, routes: func(t *testing.T, h string) map[string]reply {
			r := jrdCarol(t, h, nil)
			doc := r["/.well-known/webfinger"]
			doc.body = append(bytes.TrimSuffix(doc.body, []byte("}\n")), []byte(`,"pad":"`+strings.Repeat("x", discovery.MaxDocSize)+`"}`)...)
			r["/.well-known/webfinger"] = doc
			return r
		}},
		{name: "everything 404", want: discover.ErrNotFound, routes: func(t *testing.T, h string) map[string]reply { return nil }},
		{name: "JRD 404, empty host-meta", want: discover.ErrNotFound, routes: func(t *testing.T, h string) map[string]reply {
			return map[string]reply{"/.well-known/host-meta": ok([]byte(`<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0"/>`))}
		}},
		{name: "JRD 410", want: discover.ErrNotFound, routes: func(t *testing.T, h string) map[string]reply {
			return map[string]reply{"/.well-known/webfinger": {status: http.StatusGone}}
		}},
		{name: "hCard 404", want: discover.ErrNotFound, routes: func(t *testing.T, h string) map[string]reply {
			r := jrdCarol(t, h, nil)
			delete(r, "/hcard/users/"+carolGUID)
			return r
		}},
		{name: "server error", want: errOther, routes: func(t *testing.T, h string) map[string]reply {
			return map[string]reply{"/.well-known/webfinger": {status: http.StatusInternalServerError}}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := startFake(t, "carol.test", func(h string) map[string]reply { return c.routes(t, h) })
			before := b.count.total()
			d := newDiscoverer(t)
			rec, err := d.Person(context.Background(), "carol@"+f.host)
			checkErr(t, err, c.want)
			if err == nil && c.check != nil {
				c.check(t, rec, f)
			}
			if err != nil && !strings.Contains(err.Error(), "carol@"+f.host) {
				t.Errorf("error does not name the ID: %v", err)
			}
			if n := b.count.total() - before; n != 0 {
				t.Errorf("%d requests reached the relay on another host", n)
			}
		})
	}
}

// errOther stands for "an error that is neither discover.ErrNotFound nor discover.ErrInvalid".
var errOther = errors.New("other")

func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil:
		if err != nil {
			t.Fatalf("err = %v", err)
		}
	case want == errOther:
		if err == nil || errors.Is(err, discover.ErrNotFound) || errors.Is(err, discover.ErrInvalid) {
			t.Fatalf("err = %v, want a plain error", err)
		}
	default:
		if !errors.Is(err, want) {
			t.Fatalf("err = %v, want %v", err, want)
		}
		other := discover.ErrNotFound
		if want == discover.ErrNotFound {
			other = discover.ErrInvalid
		}
		if errors.Is(err, other) {
			t.Fatalf("err = %v is also %v", err, other)
		}
	}
}

// Bodies over the client's cap are refused, whether the server declares
// the length or streams it.
func TestPersonOversizedBody(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 2<<20)
	for _, declared := range []bool{true, false} {
		f := startFake(t, "carol.test", func(h string) map[string]reply {
			r := reply{status: 200, body: big, header: map[string]string{"Content-Type": "application/jrd+json"}}
			if declared {
				r.header["Content-Length"] = "2097152"
			}
			return map[string]reply{"/.well-known/webfinger": r}
		})
		d := discover.New(discover.Options{Client: newClient(t, 1<<20)})
		_, err := d.Person(context.Background(), "carol@"+f.host)
		if !errors.Is(err, discover.ErrInvalid) || !errors.Is(err, httpclient.ErrTooLarge) {
			t.Errorf("declared=%v: err = %v, want discover.ErrInvalid and ErrTooLarge", declared, err)
		}
	}
}

// A name that resolves to a private address is refused by the client's
// dial guard, even with the loopback allowance on.
func TestPersonPrivateAddressRefused(t *testing.T) {
	d := newDiscoverer(t)
	_, err := d.Person(context.Background(), "eve@evil.test")
	if !errors.Is(err, httpclient.ErrForbiddenAddress) {
		t.Fatalf("err = %v, want ErrForbiddenAddress", err)
	}
	if errors.Is(err, discover.ErrNotFound) {
		t.Errorf("a refused address is not 'not found': %v", err)
	}
}

func TestPersonBadID(t *testing.T) {
	d := newDiscoverer(t)
	for _, s := range []string{"", "bob", "bob@", "@bob.test", "bob@bob.test:0", "bob@bob.test:99999", "bob smith@bob.test"} {
		if _, err := d.Person(context.Background(), s); !errors.Is(err, discover.ErrInvalid) {
			t.Errorf("Person(%q): err = %v, want discover.ErrInvalid", s, err)
		}
	}
}

// N concurrent lookups of one ID make one WebFinger and one hCard request.
func TestPersonSingleflight(t *testing.T) {
	b := startRelay(t)
	d := newDiscoverer(t)
	release := b.count.holdAt("/.well-known/webfinger")
	defer release()
	const n = 8
	var wg sync.WaitGroup
	recs := make([]store.PersonRecord, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The ID in different spellings: one lookup all the same.
			who := b.id
			if i%2 == 1 {
				who = "acct:" + strings.ToUpper(b.id)
			}
			recs[i], errs[i] = d.Person(context.Background(), who)
		}()
	}
	waitFor(t, func() bool { return d.PersonWaiters(b.id) == n })
	release()
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !reflect.DeepEqual(recs[i], recs[0]) || recs[i].GUID != bobGUID {
			t.Fatalf("caller %d: %+v, %v", i, recs[i], errs[i])
		}
	}
	if w, h := b.count.count("/.well-known/webfinger"), b.count.count("/hcard/users/"+bobGUID); w != 1 || h != 1 {
		t.Fatalf("%d WebFinger and %d hCard requests, want 1 each", w, h)
	}
	// Nothing is cached: the next lookup asks again.
	if _, err := d.Person(context.Background(), b.id); err != nil {
		t.Fatal(err)
	}
	if w := b.count.count("/.well-known/webfinger"); w != 2 {
		t.Fatalf("%d WebFinger requests after a later lookup, want 2", w)
	}
}

// A caller that gives up does not fail the others sharing its lookup; when
// every caller has given up, the lookup is cancelled.
func TestPersonSingleflightCancel(t *testing.T) {
	b := startRelay(t)
	d := newDiscoverer(t)
	release := b.count.holdAt("/.well-known/webfinger")
	defer release()

	impatient, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	var rec store.PersonRecord
	// The impatient caller starts the lookup; the patient one joins it.
	go func() { _, err := d.Person(impatient, b.id); errc <- err }()
	waitFor(t, func() bool { return d.PersonWaiters(b.id) == 1 })
	go func() {
		var err error
		rec, err = d.Person(context.Background(), b.id)
		errc <- err
	}()
	waitFor(t, func() bool { return d.PersonWaiters(b.id) == 2 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("impatient caller: %v, want context.Canceled", err)
	}
	release()
	if err := <-errc; err != nil || rec.GUID != bobGUID {
		t.Fatalf("patient caller: %+v, %v", rec, err)
	}

}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}
