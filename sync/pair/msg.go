package pair

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode"
	"unicode/utf8"
)

// Frame limits.
const (
	// MaxMessage caps every frame body but the bundle's.
	MaxMessage = 64 << 10
	// MaxBundle caps the bundle's plaintext.
	MaxBundle = 1 << 20
	// MaxNameLen and MaxVersionLen cap Device.Name and Device.Version (bytes of UTF-8).
	MaxNameLen    = 64
	MaxVersionLen = 64
	// maxRefusalText caps the text of a refusal.
	maxRefusalText = 256

	headerLen  = 5 // type byte, uint32 big-endian body length
	macLen     = 32
	nonceLen   = 24 // XChaCha20-Poly1305
	sealedOver = nonceLen + 16
	maxBox     = MaxBundle + sealedOver
	protoVer   = 1
)

// msgType is a frame's type byte.
type msgType byte

const (
	msgHello msgType = iota + 1
	msgAccept
	msgInfo
	msgBundle
	msgDone
	msgRefuse
)

func (t msgType) String() string {
	switch t {
	case msgHello:
		return "hello"
	case msgAccept:
		return "accept"
	case msgInfo:
		return "info"
	case msgBundle:
		return "bundle"
	case msgDone:
		return "done"
	case msgRefuse:
		return "refuse"
	}
	return fmt.Sprintf("type %d", byte(t))
}

// maxBody is the cap of one frame type's body.
func (t msgType) maxBody() int {
	switch t {
	case msgBundle:
		return maxBox
	case msgRefuse:
		return 1 + 2 + maxRefusalText
	}
	return MaxMessage
}

// writeMsg writes one frame.
func writeMsg(w io.Writer, t msgType, body []byte) error {
	if len(body) > t.maxBody() {
		return fmt.Errorf("%w: %s of %d bytes (at most %d)", ErrTooLarge, t, len(body), t.maxBody())
	}
	buf := make([]byte, headerLen, headerLen+len(body))
	buf[0] = byte(t)
	binary.BigEndian.PutUint32(buf[1:], uint32(len(body)))
	buf = append(buf, body...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write %s: %w", t, err)
	}
	return nil
}

// readMsg reads one frame of type want, or a refusal, which it returns as a *RefusedError.
// A frame of another type or over its type's cap is refused from the header alone, and the
// body is read in chunks, so a peer announcing a large body gets no allocation beyond what
// it sent (plus one chunk).
func readMsg(r io.Reader, want msgType) ([]byte, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("read %s: %w", want, err)
	}
	t, n := msgType(h[0]), int64(binary.BigEndian.Uint32(h[1:]))
	if t != want && t != msgRefuse {
		if t >= msgHello && t <= msgRefuse && n <= int64(t.maxBody()) {
			// Skip the body so that a peer that writes whole frames gets our refusal.
			_, _ = io.CopyN(io.Discard, r, n)
		}
		return nil, fmt.Errorf("%w: got a %s frame, want %s", ErrMalformed, t, want)
	}
	if n > int64(t.maxBody()) {
		return nil, fmt.Errorf("%w: %s frame of %d bytes (at most %d)", ErrTooLarge, t, n, t.maxBody())
	}
	// Up to MaxMessage at once, then grown chunk by chunk as the data arrives.
	body := make([]byte, 0, min(int(n), MaxMessage))
	for int64(len(body)) < n {
		chunk := min(int(n)-len(body), MaxMessage)
		body = slices.Grow(body, chunk)
		got, err := io.ReadFull(r, body[len(body):len(body)+chunk])
		body = body[:len(body)+got]
		if err != nil {
			return nil, fmt.Errorf("read %s: %d of %d bytes: %w", t, len(body), n, noEOF(err))
		}
	}
	if t == msgRefuse {
		re, err := parseRefusal(body)
		if err != nil {
			return nil, err
		}
		return nil, re
	}
	return body, nil
}

// noEOF turns a clean EOF inside a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// dec reads the fields of one body; the first error sticks.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fixed(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = fmt.Errorf("%w: %s: %d bytes left, want %d", ErrMalformed, what, len(d.b), n)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) bytes(maxLen int, what string) []byte {
	l := d.fixed(2, what+" length")
	if d.err != nil {
		return nil
	}
	n := int(binary.BigEndian.Uint16(l))
	if n > maxLen {
		d.err = fmt.Errorf("%w: %s of %d bytes (at most %d)", ErrMalformed, what, n, maxLen)
		return nil
	}
	return d.fixed(n, what)
}

func (d *dec) end(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d stray bytes after the %s", ErrMalformed, len(d.b), what)
	}
	return d.err
}

// appendBytes appends a 2-byte length and b (len(b) < 64 KiB, checked by the callers).
func appendBytes(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

// hello is step 1.
type hello struct {
	version byte
	peer    []byte // binary peer ID of N
	mac     []byte
}

func (m hello) marshal() []byte {
	b := []byte{m.version}
	b = appendBytes(b, m.peer)
	return append(b, m.mac...)
}

func parseHello(body []byte) (hello, error) {
	d := dec{b: body}
	var m hello
	if v := d.fixed(1, "hello version"); v != nil {
		m.version = v[0]
	}
	m.peer = d.bytes(128, "hello peer ID")
	m.mac = d.fixed(macLen, "hello mac")
	return m, d.end("hello")
}

// parseMAC reads the body of Accept and Done.
func parseMAC(body []byte, what string) ([]byte, error) {
	d := dec{b: body}
	mac := d.fixed(macLen, what+" mac")
	return mac, d.end(what)
}

// info is step 3.
type info struct{ name, version string }

func (m info) marshal() []byte {
	b := appendBytes(nil, []byte(m.name))
	return appendBytes(b, []byte(m.version))
}

func parseInfo(body []byte) (info, error) {
	d := dec{b: body}
	name := d.bytes(MaxNameLen, "device name")
	ver := d.bytes(MaxVersionLen, "app version")
	if err := d.end("info"); err != nil {
		return info{}, err
	}
	m := info{name: string(name), version: string(ver)}
	if err := checkName(m.name); err != nil {
		return info{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkVersion(m.version); err != nil {
		return info{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return m, nil
}

// checkName accepts a device name: 1 to MaxNameLen bytes of UTF-8 without control or
// format characters (no bidi overrides in the device list).
func checkName(s string) error {
	if s == "" || len(s) > MaxNameLen || !utf8.ValidString(s) {
		return fmt.Errorf("device name %q: want 1 to %d bytes of UTF-8", clip(s, MaxNameLen), MaxNameLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("device name %q: control character %U", clip(s, MaxNameLen), r)
		}
	}
	return nil
}

// checkVersion accepts an app version: 1 to MaxVersionLen bytes of printable ASCII.
func checkVersion(s string) error {
	if s == "" || len(s) > MaxVersionLen {
		return fmt.Errorf("app version %q: want 1 to %d characters", clip(s, MaxVersionLen), MaxVersionLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("app version %q: byte %#x is not printable ASCII", clip(s, MaxVersionLen), s[i])
		}
	}
	return nil
}

// parseBox reads the body of Bundle: the nonce and the sealed bundle.
func parseBox(body []byte) (nonce, box []byte, err error) {
	if len(body) < sealedOver {
		return nil, nil, fmt.Errorf("%w: bundle of %d bytes is shorter than its nonce and tag", ErrMalformed, len(body))
	}
	return body[:nonceLen], body[nonceLen:], nil
}
