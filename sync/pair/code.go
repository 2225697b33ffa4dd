package pair

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/skip2/go-qrcode"
)

// Limits of the pairing code.
const (
	// CodePrefix starts every pairing code; CodeVersion follows it.
	CodePrefix  = "seedpod-pair"
	CodeVersion = 1
	// MaxCodeLen caps a code's text (after whitespace is removed): short enough to paste into
	// a chat or a terminal and to fit a QR code a phone camera reads at arm's length.
	MaxCodeLen = 400
	// MaxAddrs caps the addresses in a code.
	MaxAddrs = 8
	// MaxClockSkew is how far the joining device's clock may be ahead of the existing
	// device's before ParseCode calls a code expired. The existing device's Window decides.
	MaxClockSkew = 2 * time.Minute
	// SecretSize is the size of the pairing secret: 128 bits, far beyond offline guessing.
	SecretSize = 16

	maxRawCodeLen = 4096 // input before whitespace removal (a code wrapped by a mail client)
	checksumLen   = 8    // base32 characters: 40 bits of SHA-256
)

// Errors of ParseCode (each wrapped with the detail).
var (
	ErrNotACode    = errors.New("not a seedpod pairing code")
	ErrCodeVersion = errors.New("unsupported pairing code version")
	ErrCodeTooLong = errors.New("pairing code too long")
	ErrBadPeer     = errors.New("bad peer ID")
	ErrBadSecret   = errors.New("bad pairing secret")
	ErrBadExpiry   = errors.New("bad expiry")
	ErrBadAddr     = errors.New("bad address")
	ErrChecksum    = errors.New("pairing code checksum mismatch (a typo, or the code was cut off)")
)

// b32 is RFC 4648 base32 without padding: case-sensitive upper case, no 0/1/8/9, so the
// secret survives being read aloud or retyped better than base64.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Code is what the existing device shows: enough for the new device to dial it (the pinned
// peer ID and its addresses) and to prove it was shown the code (the secret).
type Code struct {
	Peer    string           // the existing device's libp2p peer ID ("12D3KooW…")
	Secret  [SecretSize]byte // one-time secret
	Addrs   []string         // multiaddrs of the existing device, without its /p2p part; may be empty (mDNS)
	Expires time.Time        // whole seconds
}

// Format returns the code's text:
//
//	seedpod-pair:1:<peer>:<secret>:<expires>:<addr>,<addr>,…:<check>
//
// <secret> is base32 without padding (26 characters), <expires> Unix seconds, and <check>
// the first 40 bits of SHA-256 over everything before it, in base32 (8 characters): a typo
// anywhere is caught before the new device dials. Addresses may contain ':' (IPv6), so the
// check is the text after the last ':' and the addresses are what lies between.
func (c Code) Format() string {
	var b strings.Builder
	b.WriteString(CodePrefix)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(CodeVersion))
	b.WriteByte(':')
	b.WriteString(c.Peer)
	b.WriteByte(':')
	b.WriteString(b32.EncodeToString(c.Secret[:]))
	b.WriteByte(':')
	b.WriteString(strconv.FormatInt(c.Expires.Unix(), 10))
	b.WriteByte(':')
	b.WriteString(strings.Join(c.Addrs, ","))
	body := b.String()
	return body + ":" + checksum(body)
}

// String prints the code with its secret redacted, so a code in a log line or an error
// gives nothing away; Format gives the text to show.
func (c Code) String() string {
	return fmt.Sprintf("%s:%d:%s:<secret>:%d:%s", CodePrefix, CodeVersion, c.Peer, c.Expires.Unix(), strings.Join(c.Addrs, ","))
}

// GoString is String, so %#v redacts the secret too.
func (c Code) GoString() string { return c.String() }

func checksum(body string) string {
	h := sha256.Sum256([]byte("seedpod-pair checksum\x00" + body))
	return b32.EncodeToString(h[:5])
}

// ParseCode reads a pairing code as pasted or scanned: whitespace anywhere (line wrapping)
// and zero-width characters are ignored; everything else must be exact. It checks, in this
// order, the prefix and version, the length, each field's syntax, the checksum and finally
// the expiry against now (allowing MaxClockSkew), so that a typo is reported as what it
// broke.
func ParseCode(s string, now time.Time) (Code, error) {
	if len(s) > maxRawCodeLen {
		return Code{}, fmt.Errorf("%w: %d bytes (at most %d characters)", ErrCodeTooLong, len(s), MaxCodeLen)
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\ufeff' {
			return -1
		}
		return r
	}, s)
	rest, ok := strings.CutPrefix(s, CodePrefix+":")
	if !ok {
		return Code{}, fmt.Errorf("%w: it must start with %q (got %q)", ErrNotACode, CodePrefix+":", clip(s, 20))
	}
	ver, rest, ok := strings.Cut(rest, ":")
	if !ok || ver != strconv.Itoa(CodeVersion) {
		return Code{}, fmt.Errorf("%w: %q (this app reads version %d; update the app that made the code or this one)", ErrCodeVersion, clip(ver, 10), CodeVersion)
	}
	if len(s) > MaxCodeLen {
		return Code{}, fmt.Errorf("%w: %d characters (at most %d)", ErrCodeTooLong, len(s), MaxCodeLen)
	}
	last := strings.LastIndexByte(rest, ':')
	var fields []string
	if last >= 0 {
		fields = strings.SplitN(rest[:last], ":", 4)
	}
	if len(fields) != 4 {
		return Code{}, fmt.Errorf("%w: want %s:%d:<peer>:<secret>:<expires>:<addresses>:<check>", ErrNotACode, CodePrefix, CodeVersion)
	}
	check := rest[last+1:]
	body := s[:len(s)-len(check)-1]
	var c Code
	var err error
	if c.Peer, err = checkPeer(fields[0]); err != nil {
		return Code{}, err
	}
	sec, err := b32.DecodeString(fields[1])
	if err != nil || len(sec) != SecretSize || b32.EncodeToString(sec) != fields[1] {
		return Code{}, fmt.Errorf("%w: %q is not %d characters of base32", ErrBadSecret, clip(fields[1], 40), b32.EncodedLen(SecretSize))
	}
	copy(c.Secret[:], sec)
	exp := fields[2]
	if exp == "" || len(exp) > 12 || strings.TrimLeft(exp, "0123456789") != "" || (len(exp) > 1 && exp[0] == '0') {
		return Code{}, fmt.Errorf("%w: %q is not Unix seconds", ErrBadExpiry, clip(exp, 20))
	}
	secs, _ := strconv.ParseInt(exp, 10, 64) // ≤ 12 digits: cannot overflow
	c.Expires = time.Unix(secs, 0)
	if fields[3] != "" {
		parts := strings.Split(fields[3], ",")
		if len(parts) > MaxAddrs {
			return Code{}, fmt.Errorf("%w: %d addresses (at most %d)", ErrBadAddr, len(parts), MaxAddrs)
		}
		for _, a := range parts {
			if err := checkAddr(a); err != nil {
				return Code{}, err
			}
		}
		c.Addrs = parts
	}
	if len(check) != checksumLen || check != checksum(body) {
		return Code{}, fmt.Errorf("%w: check %q", ErrChecksum, clip(check, 10))
	}
	if now.After(c.Expires.Add(MaxClockSkew)) {
		return Code{}, fmt.Errorf("%w: the code expired at %s (now %s); open a new pairing window", ErrExpired,
			c.Expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// validate checks what ParseCode checks except the checksum and the expiry: a Code built
// in code (NewWindow's, a test's) formats to text that parses back.
func (c Code) validate() error {
	if _, err := checkPeer(c.Peer); err != nil {
		return err
	}
	if len(c.Addrs) > MaxAddrs {
		return fmt.Errorf("%w: %d addresses (at most %d)", ErrBadAddr, len(c.Addrs), MaxAddrs)
	}
	for _, a := range c.Addrs {
		if err := checkAddr(a); err != nil {
			return err
		}
	}
	if c.Expires.Unix() <= 0 || c.Expires.Unix() >= 1e12 {
		return fmt.Errorf("%w: %v", ErrBadExpiry, c.Expires)
	}
	if n := len(c.Format()); n > MaxCodeLen {
		return fmt.Errorf("%w: %d characters (at most %d)", ErrCodeTooLong, n, MaxCodeLen)
	}
	return nil
}

// QR returns the code as a PNG QR code (about 512×512 pixels with its quiet zone, medium
// error correction), for a phone or a second screen to scan.
func QR(c Code) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("pairing QR code: %w", err)
	}
	q, err := qrcode.New(c.Format(), qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("pairing QR code: %w", err)
	}
	// A whole number of pixels per module (uneven modules trouble some scanners), about
	// 512 pixels across: 4 to 8 per module for the code's 50 to 100 modules.
	scale := max(4, 512/len(q.Bitmap()))
	data, err := q.PNG(-scale)
	if err != nil {
		return nil, fmt.Errorf("pairing QR code: png: %w", err)
	}
	return data, nil
}

// checkPeer parses a peer ID in its canonical text form (base58, as peer.ID.String writes
// it) and returns it. The canonical form matters: the proofs bind the binary ID, and two
// spellings of one ID would make "the peer in the code" ambiguous.
func checkPeer(s string) (string, error) {
	if s == "" || len(s) > 128 {
		return "", fmt.Errorf("%w: %q", ErrBadPeer, clip(s, 60))
	}
	id, err := peer.Decode(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrBadPeer, clip(s, 60), err)
	}
	if id.String() != s {
		return "", fmt.Errorf("%w: %q is not in canonical form (%s)", ErrBadPeer, clip(s, 60), id)
	}
	return s, nil
}

// peerBytes returns the binary form of a peer ID already checked by checkPeer.
func peerBytes(s string) ([]byte, error) {
	id, err := peer.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrBadPeer, clip(s, 60), err)
	}
	return []byte(id), nil
}

// checkPeerBytes returns the text form of a binary peer ID.
func checkPeerBytes(b []byte) (string, error) {
	id, err := peer.IDFromBytes(b)
	if err != nil {
		return "", fmt.Errorf("%w: %d bytes: %w", ErrBadPeer, len(b), err)
	}
	return id.String(), nil
}

// checkAddr accepts a multiaddr that does not end in a /p2p component (the code names its
// peer once, up front) and holds no ',' (the separator); a circuit address through a relay
// (…/p2p/<relay>/p2p-circuit) is fine.
func checkAddr(s string) error {
	if s == "" || len(s) > MaxCodeLen || strings.ContainsRune(s, ',') || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %q", ErrBadAddr, clip(s, 60))
	}
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrBadAddr, clip(s, 60), err)
	}
	if len(m) == 0 {
		return fmt.Errorf("%w: %q is empty", ErrBadAddr, clip(s, 60))
	}
	if m[len(m)-1].Code() == ma.P_P2P {
		return fmt.Errorf("%w: %q ends with a peer ID (give the address without /p2p/…)", ErrBadAddr, clip(s, 60))
	}
	return nil
}

// clip shortens a value quoted in an error, so a hostile input cannot make errors huge.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
