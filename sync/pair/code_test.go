package pair

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func testCode(t *testing.T) Code {
	t.Helper()
	w, err := NewWindow(testPeer(t, 1), []string{
		"/ip4/192.168.1.10/tcp/4001",
		"/ip4/192.168.1.10/udp/4001/quic-v1",
		"/ip6/fe80::1c2d:3eff:fe4f:5a6b/tcp/4001",
		"/dns4/relay.example.org/tcp/443/p2p/" + testPeer(t, 9) + "/p2p-circuit",
	}, DefaultTTL, t0)
	if err != nil {
		t.Fatal(err)
	}
	return w.Code()
}

func TestCodeRoundTrip(t *testing.T) {
	c := testCode(t)
	if len(c.Addrs) != 4 {
		t.Fatalf("addrs %q: want all 4", c.Addrs)
	}
	s := c.Format()
	if len(s) > MaxCodeLen {
		t.Fatalf("code of %d chars > %d: %s", len(s), MaxCodeLen, s)
	}
	t.Logf("code (%d chars): %s", len(s), s)
	wrapped := ""
	for i := 0; i < len(s); i += 60 { // a mail client's wrapping, a terminal's indent, a zero-width space
		wrapped += "  " + s[i:min(i+60, len(s))] + "\r\n"
	}
	wrapped = strings.Replace(wrapped, "seedpod", "seed\u200bpod", 1)
	for _, in := range []string{s, wrapped, "\t" + s + "\n"} {
		got, err := ParseCode(in, t0.Add(time.Minute))
		if err != nil {
			t.Fatalf("ParseCode(%q): %v", in, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip:\n got %#v %x %v\nwant %#v %x %v", got, got.Secret, got.Expires, c, c.Secret, c.Expires)
		}
	}
	// Printing a Code (a log line, an error) does not give the secret away.
	sec := b32.EncodeToString(c.Secret[:])
	for _, p := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(p, sec) || strings.Contains(p, fmt.Sprint(c.Secret[:4])) {
			t.Fatalf("code prints its secret: %s", p)
		}
	}
	// No addresses (mDNS only) is a valid code too.
	c.Addrs = nil
	if got, err := ParseCode(c.Format(), t0); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("no addrs: %+v, %v", got, err)
	}
}

func TestParseCodeErrors(t *testing.T) {
	c := testCode(t)
	good := c.Format()
	peerID := c.Peer
	sec := b32.EncodeToString(c.Secret[:])
	// reformat builds a code with a correct checksum around a changed body.
	reformat := func(body string) string { return body + ":" + checksum(body) }
	body := good[:strings.LastIndexByte(good, ':')]
	exp := ":" + strconv.FormatInt(c.Expires.Unix(), 10) + ":"
	tooMany := make([]string, MaxAddrs+1)
	for i := range tooMany {
		tooMany[i] = "/ip4/10.0.0.1/tcp/1"
	}
	// A typo in the secret that stays valid base32: only the checksum can catch it.
	typo := strings.Replace(good, sec, "A"+sec[1:], 1)
	if sec[0] == 'A' {
		typo = strings.Replace(good, sec, "B"+sec[1:], 1)
	}
	tests := []struct {
		name string
		in   string
		now  time.Time
		want error
	}{
		{"empty", "", t0, ErrNotACode},
		{"other text", "hello world", t0, ErrNotACode},
		{"uppercase prefix", strings.ToUpper(good[:12]) + good[12:], t0, ErrNotACode},
		{"version 2", strings.Replace(good, ":1:", ":2:", 1), t0, ErrCodeVersion},
		{"no version", "seedpod-pair:", t0, ErrCodeVersion},
		{"too long", good + strings.Repeat("x", MaxCodeLen), t0, ErrCodeTooLong},
		{"huge input", strings.Repeat(" ", 1<<20), t0, ErrCodeTooLong},
		{"fields missing", "seedpod-pair:1:" + peerID + ":" + sec, t0, ErrNotACode},
		{"bad peer", strings.Replace(good, peerID, "12D3KooWnotapeer", 1), t0, ErrBadPeer},
		{"peer typo", strings.Replace(good, peerID, peerID[:20]+"0"+peerID[21:], 1), t0, ErrBadPeer}, // '0' is not base58
		{"empty peer", strings.Replace(good, peerID, "", 1), t0, ErrBadPeer},
		{"secret short", strings.Replace(good, sec, sec[:20], 1), t0, ErrBadSecret},
		{"secret lower case", strings.Replace(good, sec, strings.ToLower(sec), 1), t0, ErrBadSecret},
		{"secret padded", strings.Replace(good, sec, sec+"======", 1), t0, ErrBadSecret},
		{"expiry letters", reformat(strings.Replace(body, exp, ":soon:", 1)), t0, ErrBadExpiry},
		{"expiry negative", reformat(strings.Replace(body, exp, ":-1:", 1)), t0, ErrBadExpiry},
		{"expiry leading zero", reformat(strings.Replace(body, exp, ":0"+exp[1:], 1)), t0, ErrBadExpiry},
		{"bad addr", reformat(strings.Replace(body, "/ip4/192.168.1.10/tcp/4001", "/ip4/999.1.1.1/tcp/4001", 1)), t0, ErrBadAddr},
		{"addr with peer", reformat(strings.Replace(body, "/ip4/192.168.1.10/tcp/4001", "/ip4/192.168.1.10/tcp/4001/p2p/"+peerID, 1)), t0, ErrBadAddr},
		{"empty addr", reformat(strings.Replace(body, "/ip4/192.168.1.10/tcp/4001,", ",", 1)), t0, ErrBadAddr},
		{"too many addrs", reformat("seedpod-pair:1:" + peerID + ":" + sec + exp + strings.Join(tooMany, ",")), t0, ErrBadAddr},
		{"secret typo", typo, t0, ErrChecksum},
		{"check typo", good[:len(good)-1] + string("AB"[bytesIndex(good[len(good)-1])]), t0, ErrChecksum},
		{"cut off", good[:len(good)-3], t0, ErrChecksum},
		{"expired", good, c.Expires.Add(MaxClockSkew + time.Second), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCode(tt.in, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseCode: %v, want %v", err, tt.want)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error of %d bytes: %.100s…", len(err.Error()), err)
			}
		})
	}
	// Within the clock skew the code is still good.
	if _, err := ParseCode(good, c.Expires.Add(MaxClockSkew-time.Second)); err != nil {
		t.Fatalf("within skew: %v", err)
	}
}

// bytesIndex returns 1 when c is 'A' (so the replacement differs), else 0.
func bytesIndex(c byte) int {
	if c == 'A' {
		return 1
	}
	return 0
}

// Every single-character typo anywhere in a code is refused.
func TestParseCodeCatchesEveryTypo(t *testing.T) {
	c := testCode(t)
	s := c.Format()
	for i := 0; i < len(s); i++ {
		for _, r := range []byte{'A', 'z', '3', '/', ':', '0'} {
			if s[i] == r {
				continue
			}
			typo := s[:i] + string(r) + s[i+1:]
			if got, err := ParseCode(typo, t0); err == nil {
				t.Fatalf("typo at %d (%q→%q) accepted: %+v", i, s[i], r, got)
			}
		}
		if _, err := ParseCode(s[:i]+s[i+1:], t0); err == nil {
			t.Fatalf("deletion at %d accepted", i)
		}
	}
}

func TestNewWindow(t *testing.T) {
	self := testPeer(t, 1)
	t.Run("own p2p part removed", func(t *testing.T) {
		w, err := NewWindow(self, []string{"/ip4/10.0.0.1/tcp/4001/p2p/" + self}, DefaultTTL, t0)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.Code().Addrs; !reflect.DeepEqual(got, []string{"/ip4/10.0.0.1/tcp/4001"}) {
			t.Fatalf("addrs %q", got)
		}
		if !w.Expires().Equal(t0.Add(DefaultTTL)) || w.Peer() != self {
			t.Fatalf("expires %v peer %s", w.Expires(), w.Peer())
		}
	})
	t.Run("trimmed to the code's limits", func(t *testing.T) {
		var addrs []string
		for i := range 20 {
			addrs = append(addrs, fmt.Sprintf("/ip6/2001:db8::%x/udp/4001/quic-v1", i+1))
		}
		w, err := NewWindow(self, addrs, DefaultTTL, t0)
		if err != nil {
			t.Fatal(err)
		}
		c := w.Code()
		if len(c.Addrs) == 0 || len(c.Addrs) > MaxAddrs || len(c.Format()) > MaxCodeLen {
			t.Fatalf("%d addrs, %d chars", len(c.Addrs), len(c.Format()))
		}
		if c.Addrs[0] != addrs[0] {
			t.Fatalf("first addr %q: the caller's order must be kept", c.Addrs[0])
		}
		if _, err := ParseCode(c.Format(), t0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("secrets differ", func(t *testing.T) {
		a, _ := NewWindow(self, nil, DefaultTTL, t0)
		b, _ := NewWindow(self, nil, DefaultTTL, t0)
		if a.Code().Secret == b.Code().Secret || a.Code().Secret == ([SecretSize]byte{}) {
			t.Fatal("secrets not random")
		}
	})
	for _, tt := range []struct {
		name  string
		self  string
		addrs []string
		ttl   time.Duration
		want  error
	}{
		{"bad self", "nope", nil, DefaultTTL, ErrBadPeer},
		{"bad addr", self, []string{"/ip4/1.2.3.4/tcp/x"}, DefaultTTL, ErrBadAddr},
		{"other peer's addr", self, []string{"/ip4/1.2.3.4/tcp/1/p2p/" + testPeer(t, 2)}, DefaultTTL, ErrBadAddr},
		{"comma", self, []string{"/dns4/a,b/tcp/1"}, DefaultTTL, ErrBadAddr},
		{"zero ttl", self, nil, 0, nil},
		{"ttl too long", self, nil, MaxTTL + time.Second, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWindow(tt.self, tt.addrs, tt.ttl, t0)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("NewWindow: %v, want %v", err, tt.want)
			}
		})
	}
}

// The QR image encodes exactly the code's text: every module of the PNG matches the
// bitmap go-qrcode computes for Format().
func TestQR(t *testing.T) {
	c := testCode(t)
	data, err := QR(c)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	size := img.Bounds().Dx()
	if size < 400 || size > 1024 || img.Bounds().Dy() != size {
		t.Fatalf("image %v", img.Bounds())
	}
	q, err := qrcode.New(c.Format(), qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bm := q.Bitmap()
	ppm := size / len(bm)
	if ppm*len(bm) != size {
		t.Fatalf("%d pixels for %d modules: not a whole number per module", size, len(bm))
	}
	off := 0
	for y, row := range bm {
		for x, dark := range row {
			r, _, _, _ := img.At(off+x*ppm+ppm/2, off+y*ppm+ppm/2).RGBA()
			if (r < 0x8000) != dark {
				t.Fatalf("module (%d,%d): dark=%v in the bitmap, red=%#x in the PNG", x, y, dark, r)
			}
		}
	}
	bad := c
	bad.Peer = "x"
	if _, err := QR(bad); !errors.Is(err, ErrBadPeer) {
		t.Fatalf("QR of a bad code: %v", err)
	}
}
