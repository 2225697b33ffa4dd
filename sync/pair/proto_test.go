package pair

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

type fixture struct {
	e, n   string // peer IDs
	w      *Window
	code   Code
	self   Device
	bundle []byte
}

func newFixture(t testing.TB, now time.Time) *fixture {
	t.Helper()
	f := &fixture{e: testPeer(t, 1), n: testPeer(t, 2)}
	var err error
	f.w, err = NewWindow(f.e, []string{"/ip4/127.0.0.1/tcp/4001"}, DefaultTTL, now)
	if err != nil {
		t.Fatal(err)
	}
	f.code = f.w.Code()
	f.self = Device{Peer: f.n, Name: "desktop", Version: "seedpod 0.9.0"}
	f.bundle, err = testBundle(t, f.e, f.n).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestExchange(t *testing.T) {
	f := newFixture(t, time.Now())
	var got Device
	e, n := exchange(t, f.w, f.n, f.code, f.self, func(d Device) ([]byte, error) {
		got = d
		return f.bundle, nil
	})
	if e.err != nil || n.err != nil {
		t.Fatalf("existing: %v; join: %v", e.err, n.err)
	}
	if e.dev != f.self || got != f.self {
		t.Fatalf("existing got device %+v (callback %+v), want %+v", e.dev, got, f.self)
	}
	if !bytes.Equal(n.bundle, f.bundle) {
		t.Fatal("joiner got another bundle")
	}
	b, err := ParseBundle(n.bundle)
	if err != nil || b.Handle != "alice@relay.example.org" {
		t.Fatalf("bundle %v, %v", b, err)
	}
	if err := f.w.Check(time.Now()); !errors.Is(err, ErrUsed) {
		t.Fatalf("window after success: %v, want ErrUsed", err)
	}
	if f.w.Failures() != 0 {
		t.Fatalf("failures %d", f.w.Failures())
	}
}

// Both sides fail on a wrong secret, the window counts it, and the third failure burns it
// even for the right secret afterwards.
func TestWrongSecretBurns(t *testing.T) {
	f := newFixture(t, time.Now())
	wrong := f.code
	wrong.Secret[0] ^= 1
	for i := 1; i <= MaxFailures; i++ {
		e, n := exchange(t, f.w, f.n, wrong, f.self, staticBundle(f.bundle))
		if !errors.Is(e.err, ErrBadProof) {
			t.Fatalf("attempt %d: existing: %v, want ErrBadProof", i, e.err)
		}
		if !errors.Is(n.err, ErrBadProof) || !errors.Is(n.err, ErrRefused) {
			t.Fatalf("attempt %d: join: %v, want a refusal for ErrBadProof", i, n.err)
		}
		if n.bundle != nil {
			t.Fatal("a bundle for a wrong secret")
		}
		if got := f.w.Failures(); got != i {
			t.Fatalf("attempt %d: failures %d", i, got)
		}
	}
	if err := f.w.Check(time.Now()); !errors.Is(err, ErrBurned) {
		t.Fatalf("window: %v, want ErrBurned", err)
	}
	e, n := exchange(t, f.w, f.n, f.code, f.self, staticBundle(f.bundle))
	if !errors.Is(e.err, ErrBurned) || !errors.Is(n.err, ErrBurned) || !errors.Is(n.err, ErrRefused) {
		t.Fatalf("right secret on a burned window: existing %v, join %v", e.err, n.err)
	}
	if f.w.Failures() != MaxFailures {
		t.Fatalf("a refused attempt on a burned window counted: %d", f.w.Failures())
	}
}

func TestWindowRefusals(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		setup func(f *fixture)
		want  error
	}{
		{"used", func(f *fixture) {
			if e, n := exchange(t, f.w, f.n, f.code, f.self, staticBundle(f.bundle)); e.err != nil || n.err != nil {
				t.Fatalf("first exchange: %v, %v", e.err, n.err)
			}
		}, ErrUsed},
		{"used by another device", func(f *fixture) {
			other := f.self
			other.Peer = testPeer(t, 3)
			if e, n := exchange(t, f.w, other.Peer, f.code, other, staticBundle(f.bundle)); e.err != nil || n.err != nil {
				t.Fatalf("first exchange: %v, %v", e.err, n.err)
			}
		}, ErrUsed},
		{"closed", func(f *fixture) { f.w.Close() }, ErrClosed},
		// Expired on the existing side, but within the joiner's MaxClockSkew: E decides.
		{"expired", func(f *fixture) {
			var err error
			f.w, err = NewWindow(f.e, nil, time.Minute, now.Add(-time.Minute-30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			f.code = f.w.Code()
		}, ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, now)
			tt.setup(f)
			called := false
			e, n := exchange(t, f.w, f.n, f.code, f.self, func(Device) ([]byte, error) {
				called = true
				return f.bundle, nil
			})
			if !errors.Is(e.err, tt.want) {
				t.Fatalf("existing: %v, want %v", e.err, tt.want)
			}
			if !errors.Is(n.err, tt.want) || !errors.Is(n.err, ErrRefused) {
				t.Fatalf("join: %v, want a refusal for %v", n.err, tt.want)
			}
			if called || n.bundle != nil {
				t.Fatal("a bundle was built or received")
			}
			if !strings.Contains(e.err.Error(), "pairing step hello") {
				t.Fatalf("error does not name the step: %v", e.err)
			}
		})
	}
	t.Run("code expired locally", func(t *testing.T) {
		f := newFixture(t, now.Add(-DefaultTTL-MaxClockSkew-time.Second))
		_, err := Join(context.Background(), nopRW{}, f.code, f.self) // fails before any I/O
		if !errors.Is(err, ErrExpired) {
			t.Fatalf("join: %v", err)
		}
	})
}

type nopRW struct{}

func (nopRW) Read([]byte) (int, error)    { return 0, io.EOF }
func (nopRW) Write([]byte) (int, error)   { return 0, io.ErrClosedPipe }
func (nopRW) SetDeadline(time.Time) error { return nil }

// A relayed man in the middle M: N dials what it takes for E, and M forwards N's frames
// to E from its own connection. N's proof is bound to N's peer ID; E sees M's peer ID.
func TestRelayedMITM(t *testing.T) {
	f := newFixture(t, time.Now())
	m := testPeer(t, 7)
	// M forwards N's hello unchanged: it names N, the connection is from M.
	e, n := exchange(t, f.w, m, f.code, f.self, staticBundle(f.bundle))
	if !errors.Is(e.err, ErrBadProof) || !strings.Contains(e.err.Error(), "names peer "+f.n) {
		t.Fatalf("existing: %v", e.err)
	}
	if !errors.Is(n.err, ErrBadProof) || n.bundle != nil {
		t.Fatalf("join: %v", n.err)
	}
	// M rewrites the hello to name itself and keeps N's MAC.
	mb, _ := peerBytes(m)
	e, n = proxied(t, f, m, func(typ msgType, body []byte) []byte {
		if typ == msgHello {
			h, err := parseHello(body)
			if err != nil {
				t.Error(err)
			}
			h.peer = mb
			return h.marshal()
		}
		return body
	})
	if !errors.Is(e.err, ErrBadProof) || !errors.Is(n.err, ErrBadProof) {
		t.Fatalf("rewritten hello: existing %v, join %v", e.err, n.err)
	}
	if f.w.Failures() != 2 {
		t.Fatalf("failures %d, want 2", f.w.Failures())
	}
}

// proxied runs the exchange through a relay that may change each frame (as M, so E sees
// remote as the peer).
func proxied(t *testing.T, f *fixture, remote string, change func(msgType, []byte) []byte) (e, n result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ce, me := net.Pipe()
	mn, cn := net.Pipe()
	relay := func(dst, src net.Conn) {
		defer dst.Close()
		for {
			var h [headerLen]byte
			if _, err := io.ReadFull(src, h[:]); err != nil {
				return
			}
			body := make([]byte, int(h[1])<<24|int(h[2])<<16|int(h[3])<<8|int(h[4]))
			if _, err := io.ReadFull(src, body); err != nil {
				return
			}
			if err := writeMsg(dst, msgType(h[0]), change(msgType(h[0]), body)); err != nil {
				return
			}
		}
	}
	go relay(me, mn)
	go relay(mn, me)
	done := make(chan result)
	go func() {
		d, err := Existing(ctx, ce, f.w, remote, staticBundle(f.bundle))
		ce.Close()
		done <- result{dev: d, err: err}
	}()
	b, err := Join(ctx, cn, f.code, f.self)
	cn.Close()
	return <-done, result{bundle: b, err: err}
}

func TestTamperedBundle(t *testing.T) {
	for _, where := range []string{"nonce", "box", "tag", "truncated"} {
		t.Run(where, func(t *testing.T) {
			f := newFixture(t, time.Now())
			e, n := proxied(t, f, f.n, func(typ msgType, body []byte) []byte {
				if typ != msgBundle {
					return body
				}
				b := bytes.Clone(body)
				switch where {
				case "nonce":
					b[3] ^= 0x80
				case "box":
					b[nonceLen+100] ^= 1
				case "tag":
					b[len(b)-1] ^= 1
				case "truncated":
					b = b[:len(b)-1]
				}
				return b
			})
			if !errors.Is(n.err, ErrBadBundle) || n.bundle != nil {
				t.Fatalf("join: %v", n.err)
			}
			if !errors.Is(e.err, ErrBadBundle) || !errors.Is(e.err, ErrRefused) || !strings.Contains(e.err.Error(), "step done") {
				t.Fatalf("existing: %v", e.err)
			}
			if err := f.w.Check(time.Now()); !errors.Is(err, ErrUsed) {
				t.Fatalf("a window whose bundle went out: %v, want ErrUsed", err)
			}
		})
	}
}

// The box is bound to both peer IDs and the protocol version: opening it for any other
// pair, or with another secret, fails.
func TestBundleBinding(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, SecretSize)
	e, _ := peerBytes(testPeer(t, 1))
	n, _ := peerBytes(testPeer(t, 2))
	x, _ := peerBytes(testPeer(t, 3))
	box, err := seal(secret, e, n, []byte("the key"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := open(secret, e, n, box); err != nil || string(got) != "the key" {
		t.Fatalf("open: %q, %v", got, err)
	}
	other := bytes.Clone(secret)
	other[0] ^= 1
	for name, try := range map[string][3][]byte{
		"swapped":      {secret, n, e},
		"other new":    {secret, e, x},
		"other old":    {secret, x, n},
		"other secret": {other, e, n},
	} {
		if _, err := open(try[0], try[1], try[2], box); !errors.Is(err, ErrBadBundle) {
			t.Errorf("%s: %v, want ErrBadBundle", name, err)
		}
	}
	// enc keeps (E, N) pairs apart that plain concatenation would merge.
	if bytes.Equal(enc([]byte("ab"), []byte("c")), enc([]byte("a"), []byte("bc"))) {
		t.Fatal("enc is ambiguous")
	}
}

// An impostor on the stream that lacks the secret learns only N's peer ID and mac_N, and
// whatever it answers, N refuses before saying anything else.
func TestImpostor(t *testing.T) {
	f := newFixture(t, time.Now())
	eb, _ := peerBytes(f.e)
	nb, _ := peerBytes(f.n)
	wrongSecret := bytes.Repeat([]byte{1}, SecretSize)
	for _, tt := range []struct {
		name   string
		answer func(h hello) []byte
	}{
		{"random mac", func(hello) []byte { b := make([]byte, macLen); rand.Read(b); return b }},
		{"reflected mac_N", func(h hello) []byte { return h.mac }},
		{"mac under another secret", func(hello) []byte { return proof(wrongSecret, labelE, eb, nb) }},
		{"mac_E with the peers swapped", func(hello) []byte { return proof(f.code.Secret[:], labelE, nb, eb) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ci, cn := net.Pipe()
			defer ci.Close()
			got := make(chan error, 1)
			go func() {
				b, err := Join(context.Background(), cn, f.code, f.self)
				if b != nil {
					err = errors.New("join returned a bundle")
				}
				cn.Close()
				got <- err
			}()
			body, err := readMsg(ci, msgHello)
			if err != nil {
				t.Fatal(err)
			}
			h, err := parseHello(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(body) != 1+2+len(nb)+macLen || !bytes.Equal(h.peer, nb) {
				t.Fatalf("hello of %d bytes holds more than N's peer ID and mac_N", len(body))
			}
			if bytes.Contains(body, []byte(f.self.Name)) || bytes.Contains(body, []byte(f.self.Version)) {
				t.Fatal("hello reveals the device name or version")
			}
			if err := writeMsg(ci, msgAccept, tt.answer(h)); err != nil {
				t.Fatal(err)
			}
			// The next frame must be a refusal, not Info.
			_, err = readMsg(ci, msgInfo)
			var re *RefusedError
			if !errors.As(err, &re) || !errors.Is(re, ErrBadProof) {
				t.Fatalf("after a false accept N sent %v, want a refusal", err)
			}
			if err := <-got; !errors.Is(err, ErrBadProof) || !strings.Contains(err.Error(), "step accept") {
				t.Fatalf("join: %v", err)
			}
		})
	}
}

// The bundle callback failing or the stream breaking before the bundle went out leaves the
// window open for another try; the new device learns nothing of E's internals.
func TestWindowReleasedBeforeBundle(t *testing.T) {
	f := newFixture(t, time.Now())
	e, n := exchange(t, f.w, f.n, f.code, f.self, func(Device) ([]byte, error) {
		return nil, errors.New("database is locked at /secret/path")
	})
	if !errors.Is(e.err, ErrInternal) || !errors.Is(n.err, ErrInternal) || !errors.Is(n.err, ErrRefused) {
		t.Fatalf("existing %v; join %v", e.err, n.err)
	}
	if strings.Contains(n.err.Error(), "/secret/path") {
		t.Fatalf("refusal leaks E's error: %v", n.err)
	}
	if err := f.w.Check(time.Now()); err != nil {
		t.Fatalf("window after an internal failure: %v", err)
	}
	// Too large a bundle is E's failure too.
	e, n = exchange(t, f.w, f.n, f.code, f.self, staticBundle(make([]byte, MaxBundle+1)))
	if !errors.Is(e.err, ErrTooLarge) || !errors.Is(n.err, ErrInternal) {
		t.Fatalf("oversized bundle: existing %v; join %v", e.err, n.err)
	}
	// Now it works.
	e, n = exchange(t, f.w, f.n, f.code, f.self, staticBundle(f.bundle))
	if e.err != nil || n.err != nil {
		t.Fatalf("retry: %v, %v", e.err, n.err)
	}
}

// N disappears after the bundle without confirming, or confirms something else: E does
// not report a paired device, and the window is used.
func TestDone(t *testing.T) {
	for _, tt := range []struct {
		name string
		done func(conn net.Conn, s, eb, nb, box []byte)
		want error
	}{
		{"gone", func(conn net.Conn, _, _, _, _ []byte) { conn.Close() }, io.EOF},
		{"confirms another box", func(conn net.Conn, s, eb, nb, box []byte) {
			sum := sha256.Sum256(append(box, 0))
			writeMsg(conn, msgDone, proof(s, labelDone, eb, nb, sum[:]))
		}, ErrBadProof},
		{"accept instead of done", func(conn net.Conn, s, eb, nb, box []byte) {
			writeMsg(conn, msgAccept, proof(s, labelE, eb, nb))
		}, ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, time.Now())
			ce, cn := net.Pipe()
			defer cn.Close()
			done := make(chan error, 1)
			go func() {
				_, err := Existing(context.Background(), ce, f.w, f.n, staticBundle(f.bundle))
				ce.Close()
				done <- err
			}()
			eb, _ := peerBytes(f.e)
			nb, _ := peerBytes(f.n)
			s := f.code.Secret[:]
			must(t, writeMsg(cn, msgHello, hello{version: protoVer, peer: nb, mac: proof(s, labelN, eb, nb)}.marshal()))
			_, err := readMsg(cn, msgAccept)
			must(t, err)
			must(t, writeMsg(cn, msgInfo, info{name: "x", version: "1"}.marshal()))
			body, err := readMsg(cn, msgBundle)
			must(t, err)
			if _, err := open(s, eb, nb, body); err != nil {
				t.Fatal(err)
			}
			go func() {
				tt.done(cn, s, eb, nb, body)
				io.Copy(io.Discard, cn) // E's refusal
			}()
			if err := <-done; !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "step done") {
				t.Fatalf("existing: %v, want %v", err, tt.want)
			}
			if err := f.w.Check(time.Now()); !errors.Is(err, ErrUsed) {
				t.Fatalf("window: %v", err)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Several devices race for one window: exactly one gets the bundle, the others ErrUsed.
func TestConcurrentJoiners(t *testing.T) {
	f := newFixture(t, time.Now())
	const k = 6
	var wg sync.WaitGroup
	results := make([][2]result, k)
	for i := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			self := Device{Peer: testPeer(t, byte(10+i)), Name: fmt.Sprintf("device %d", i), Version: "1"}
			e, n := exchange(t, f.w, self.Peer, f.code, self, func(Device) ([]byte, error) {
				time.Sleep(5 * time.Millisecond) // hold the reservation a while
				return f.bundle, nil
			})
			results[i] = [2]result{e, n}
		}()
	}
	wg.Wait()
	wins := 0
	for i, r := range results {
		switch {
		case r[0].err == nil && r[1].err == nil:
			wins++
		case errors.Is(r[0].err, ErrUsed) && errors.Is(r[1].err, ErrUsed):
		default:
			t.Errorf("joiner %d: existing %v, join %v", i, r[0].err, r[1].err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d joiners got the bundle, want 1", wins)
	}
}

// Each step has a deadline: a silent peer, an expired ctx or a cancelled one ends the
// exchange with the ctx's error, and the window is untouched.
func TestDeadlines(t *testing.T) {
	f := newFixture(t, time.Now())
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"ctx deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancelled mid-read", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			ce, cn := net.Pipe()
			defer cn.Close()
			defer ce.Close()
			start := time.Now()
			_, err := Existing(ctx, ce, f.w, f.n, staticBundle(f.bundle))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "step hello") {
				t.Fatalf("existing: %v, want %v", err, tt.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v", d)
			}
			// The stream's deadline is cleared for the caller.
			go cn.Write([]byte{1})
			ce.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := ce.Read(make([]byte, 1)); err != nil {
				t.Fatalf("stream after Existing: %v", err)
			}
			// Join too: E accepts nothing.
			_, err = Join(ctx, cn, f.code, f.self)
			if !errors.Is(err, tt.want) {
				t.Fatalf("join: %v, want %v", err, tt.want)
			}
		})
	}
	if err := f.w.Check(time.Now()); err != nil || f.w.Failures() != 0 {
		t.Fatalf("window: %v, %d failures", err, f.w.Failures())
	}
}

// Malformed or oversized frames from the joiner: E fails with a clear error and refuses,
// the window counts nothing.
func TestExistingBadFrames(t *testing.T) {
	f := newFixture(t, time.Now())
	nb, _ := peerBytes(f.n)
	eb, _ := peerBytes(f.e)
	mac := proof(f.code.Secret[:], labelN, eb, nb)
	frame := func(typ msgType, body []byte) []byte {
		var b bytes.Buffer
		must(t, writeMsg(&b, typ, body))
		return b.Bytes()
	}
	for _, tt := range []struct {
		name string
		in   []byte
		want error
	}{
		{"huge hello", []byte{byte(msgHello), 0xff, 0xff, 0xff, 0xff}, ErrTooLarge},
		{"hello just over the cap", []byte{byte(msgHello), 0, 1, 0, 1}, ErrTooLarge},
		{"info first", frame(msgInfo, info{name: "x", version: "1"}.marshal()), ErrMalformed},
		{"unknown type", frame(99, nil), ErrMalformed},
		{"empty hello", frame(msgHello, nil), ErrMalformed},
		{"hello short mac", frame(msgHello, hello{version: protoVer, peer: nb, mac: mac[:31]}.marshal()), ErrMalformed},
		{"hello trailing", frame(msgHello, append(hello{version: protoVer, peer: nb, mac: mac}.marshal(), 0)), ErrMalformed},
		{"hello version 2", frame(msgHello, hello{version: 2, peer: nb, mac: mac}.marshal()), ErrVersion},
		{"hello bad peer", frame(msgHello, hello{version: protoVer, peer: []byte("junk"), mac: mac}.marshal()), ErrBadProof},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ce, cn := net.Pipe()
			defer cn.Close()
			done := make(chan error, 1)
			go func() {
				_, err := Existing(context.Background(), ce, f.w, f.n, staticBundle(f.bundle))
				ce.Close()
				done <- err
			}()
			go cn.Write(tt.in) // may block on the unread rest of a huge frame
			_, err := readMsg(cn, msgAccept)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrRefused) {
				t.Fatalf("joiner got %v, want a refusal for %v", err, tt.want)
			}
			if err := <-done; !errors.Is(err, tt.want) {
				t.Fatalf("existing: %v, want %v", err, tt.want)
			}
		})
	}
	if f.w.Failures() != 1 { // only "hello bad peer" is a failed proof
		t.Fatalf("failures %d, want 1", f.w.Failures())
	}
	if err := f.w.Check(time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestSamePeer(t *testing.T) {
	f := newFixture(t, time.Now())
	self := f.self
	self.Peer = f.e
	if _, err := Join(context.Background(), nopRW{}, f.code, self); !errors.Is(err, ErrSamePeer) {
		t.Fatalf("join: %v", err)
	}
}
