package pair

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// FuzzParseCode: ParseCode never panics, and a code it accepts formats to text that parses
// back to the same Code (the checksum covers exactly what Format writes).
func FuzzParseCode(f *testing.F) {
	w, err := NewWindow(testPeer(f, 1), []string{
		"/ip4/192.168.1.10/tcp/4001", "/ip6/::1/udp/4001/quic-v1",
		"/dns4/relay.example.org/tcp/443/p2p/" + testPeer(f, 9) + "/p2p-circuit",
	}, DefaultTTL, t0)
	if err != nil {
		f.Fatal(err)
	}
	good := w.Code().Format()
	f.Add(good)
	f.Add(good[:len(good)-9] + ":AAAAAAAA")
	f.Add("seedpod-pair:1:::::")
	f.Add("seedpod-pair:1:" + testPeer(f, 1) + ":AAAAAAAAAAAAAAAAAAAAAAAAAA:0::AAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s, t0)
		if err != nil {
			return
		}
		again, err := ParseCode(c.Format(), t0)
		if err != nil {
			t.Fatalf("ParseCode(%q) = %#v, but its Format %q does not parse: %v", s, c, c.Format(), err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip: %#v != %#v", again, c)
		}
		if len(c.Format()) > MaxCodeLen || len(c.Addrs) > MaxAddrs {
			t.Fatalf("accepted a code over the limits: %d chars, %d addrs", len(c.Format()), len(c.Addrs))
		}
	})
}

// FuzzReadMsg: the frame reader and the body parsers never panic, never return a body over
// its type's cap, and what parses re-encodes to the same bytes.
func FuzzReadMsg(f *testing.F) {
	frame := func(typ msgType, body []byte) []byte {
		var b bytes.Buffer
		if err := writeMsg(&b, typ, body); err != nil {
			f.Fatal(err)
		}
		return b.Bytes()
	}
	nb, _ := peerBytes(testPeer(f, 2))
	f.Add(byte(msgHello), frame(msgHello, hello{version: 1, peer: nb, mac: make([]byte, macLen)}.marshal()))
	f.Add(byte(msgAccept), frame(msgAccept, make([]byte, macLen)))
	f.Add(byte(msgInfo), frame(msgInfo, info{name: "laptop", version: "1.0"}.marshal()))
	f.Add(byte(msgBundle), frame(msgBundle, make([]byte, 100)))
	f.Add(byte(msgDone), frame(msgRefuse, refusalBody(ErrBadProof)))
	f.Add(byte(msgHello), []byte{byte(msgHello), 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, want byte, in []byte) {
		typ := msgType(want%6 + 1)
		body, err := readMsg(bytes.NewReader(in), typ)
		if err != nil {
			return
		}
		if len(body) > typ.maxBody() {
			t.Fatalf("%s body of %d bytes over its cap", typ, len(body))
		}
		switch typ {
		case msgHello:
			if h, err := parseHello(body); err == nil && !bytes.Equal(h.marshal(), body) {
				t.Fatalf("hello does not round-trip")
			}
		case msgInfo:
			if m, err := parseInfo(body); err == nil && !bytes.Equal(m.marshal(), body) {
				t.Fatalf("info does not round-trip")
			}
		case msgAccept, msgDone:
			if mac, err := parseMAC(body, "x"); err == nil && !bytes.Equal(mac, body) {
				t.Fatalf("mac does not round-trip")
			}
		case msgBundle:
			if nonce, box, err := parseBox(body); err == nil && len(nonce)+len(box) != len(body) {
				t.Fatalf("box split wrong")
			}
		}
	})
}

// FuzzParseBundle: ParseBundle never panics, and a bundle it accepts marshals and parses
// back to the same value.
func FuzzParseBundle(f *testing.F) {
	good, err := testBundle(f, testPeer(f, 1), testPeer(f, 2)).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"handle":"a@b","guid":"0123456789abcdef","relay_url":"https://b","rsa_key":"AA==","devices":[]}`))
	f.Add([]byte(`{"version":1} {}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			return
		}
		out, err := b.Marshal()
		if err != nil {
			t.Fatalf("accepted bundle does not marshal: %v", err)
		}
		again, err := ParseBundle(out)
		if err != nil || !reflect.DeepEqual(again, b) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, again, b)
		}
	})
}

// FuzzExisting: whatever a stranger sends, Existing returns an error (it holds no secret)
// without panicking, and the window is never used up.
func FuzzExisting(f *testing.F) {
	e, n := testPeer(f, 1), testPeer(f, 2)
	nb, _ := peerBytes(n)
	var b bytes.Buffer
	_ = writeMsg(&b, msgHello, hello{version: 1, peer: nb, mac: make([]byte, macLen)}.marshal())
	f.Add(b.Bytes())
	f.Add([]byte{byte(msgHello), 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		w, err := NewWindow(e, nil, DefaultTTL, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = Existing(t.Context(), &fuzzStream{r: bytes.NewReader(in)}, w, n, staticBundle([]byte("x")))
		if err == nil {
			t.Fatal("a stranger paired")
		}
		if err := w.Check(time.Now()); err != nil && w.Failures() < MaxFailures {
			t.Fatalf("window after a stranger: %v", err)
		}
	})
}

type fuzzStream struct {
	r *bytes.Reader
}

func (s *fuzzStream) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *fuzzStream) Write(p []byte) (int, error) { return len(p), nil }
