package pair

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// Bundle limits.
const (
	BundleVersion    = 1
	MaxBundleDevices = 256 // the p2p gater's MaxPaired
	MaxHandleLen     = 255
	MaxRelayURLLen   = 2048
	MaxRSAKeyDER     = 8 << 10 // PKCS#8 DER of an 8192-bit key is about 4.8 KiB
	minRSABits       = 1024    // old pods' keys (pod/diaspora/keys.MinBits); Go refuses less
	maxRSABits       = 8192
)

// ErrBadBundleData is wrapped by every ParseBundle and Marshal error.
var ErrBadBundleData = errors.New("bad provisioning bundle")

// guidRE is diaspora's GUID rule (pod/diaspora/id.ValidGUID): 16–255 characters of
// [0-9A-Za-z_@.:-], ending alphanumeric.
var guidRE = regexp.MustCompile(`^[0-9A-Za-z_@.:-]{15,254}[0-9A-Za-z]$`)

// Bundle is what the existing device hands the new one (docs/sync.md step 3): the identity
// and its key, and the device registry with addresses so the new device can reach its
// peers at once. Its JSON form travels inside the sealed box; ParseBundle reads it
// strictly. It holds the identity's private key: it prints redacted.
type Bundle struct {
	Version  int            `json:"version"`   // BundleVersion
	Handle   string         `json:"handle"`    // the identity's diaspora ID, user@host
	GUID     string         `json:"guid"`      // the identity's person GUID
	RelayURL string         `json:"relay_url"` // the relay that hosts the identity (http or https); "" without one
	RSAKey   []byte         `json:"rsa_key"`   // the identity's RSA private key, PKCS#8 DER (base64 in JSON)
	Devices  []BundleDevice `json:"devices"`   // the paired devices, the existing one included
}

// BundleDevice is one paired device in a Bundle.
type BundleDevice struct {
	Peer  string   `json:"peer"`            // libp2p peer ID
	Name  string   `json:"name"`            // user-visible name
	Addrs []string `json:"addrs,omitempty"` // multiaddrs without /p2p, at most MaxAddrs
}

// String prints the bundle without its key.
func (b Bundle) String() string {
	return fmt.Sprintf("pair.Bundle{v%d %s guid=%s relay=%s key=%d bytes devices=%d}",
		b.Version, clip(b.Handle, 80), clip(b.GUID, 40), clip(b.RelayURL, 80), len(b.RSAKey), len(b.Devices))
}

// GoString is String, so %#v does not print the key either.
func (b Bundle) GoString() string { return b.String() }

// Marshal checks the bundle and returns its JSON form (at most MaxBundle bytes).
func (b Bundle) Marshal() ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBundleData, err)
	}
	if len(data) > MaxBundle {
		return nil, fmt.Errorf("%w: %w: %d bytes (at most %d)", ErrBadBundleData, ErrTooLarge, len(data), MaxBundle)
	}
	return data, nil
}

// ParseBundle reads a bundle's JSON strictly: at most MaxBundle bytes, one object with no
// unknown fields and nothing after it, every field checked (the RSA key must parse as an
// RSA PKCS#8 key of 1024 to 8192 bits). The pod still normalises the handle its own way.
func ParseBundle(data []byte) (Bundle, error) {
	if len(data) > MaxBundle {
		return Bundle{}, fmt.Errorf("%w: %w: %d bytes (at most %d)", ErrBadBundleData, ErrTooLarge, len(data), MaxBundle)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var b Bundle
	if err := d.Decode(&b); err != nil {
		return Bundle{}, fmt.Errorf("%w: %w", ErrBadBundleData, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Bundle{}, fmt.Errorf("%w: data after the bundle object", ErrBadBundleData)
	}
	for i := range b.Devices {
		if len(b.Devices[i].Addrs) == 0 {
			b.Devices[i].Addrs = nil // "addrs": [] and no addrs are the same
		}
	}
	if err := b.validate(); err != nil {
		return Bundle{}, err
	}
	return b, nil
}

// RSAPrivateKey parses the bundle's key (ParseBundle checked that it does).
func (b Bundle) RSAPrivateKey() (*rsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(b.RSAKey)
	if err != nil {
		return nil, fmt.Errorf("%w: rsa_key: %w", ErrBadBundleData, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: rsa_key is a %T, not an RSA key", ErrBadBundleData, k)
	}
	if n := rk.N.BitLen(); n < minRSABits || n > maxRSABits {
		return nil, fmt.Errorf("%w: rsa_key of %d bits (%d to %d)", ErrBadBundleData, n, minRSABits, maxRSABits)
	}
	return rk, nil
}

func (b Bundle) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadBundleData, fmt.Sprintf(format, args...))
	}
	if b.Version != BundleVersion {
		return fmt.Errorf("%w: %w: bundle version %d (this app reads %d)", ErrBadBundleData, ErrVersion, b.Version, BundleVersion)
	}
	if err := checkHandle(b.Handle); err != nil {
		return bad("handle: %v", err)
	}
	if !guidRE.MatchString(b.GUID) {
		return bad("guid %q: want 16 to 255 characters of [0-9A-Za-z_@.:-], ending alphanumeric", clip(b.GUID, 80))
	}
	if b.RelayURL != "" { // "" while the identity has no relay (devices on one LAN)
		if err := checkRelayURL(b.RelayURL); err != nil {
			return bad("relay_url: %v", err)
		}
	}
	if len(b.Devices) == 0 || len(b.Devices) > MaxBundleDevices {
		return bad("%d devices (1 to %d)", len(b.Devices), MaxBundleDevices)
	}
	seen := make(map[string]bool, len(b.Devices))
	for i, dv := range b.Devices {
		if _, err := checkPeer(dv.Peer); err != nil {
			return bad("device %d: %v", i, err)
		}
		if seen[dv.Peer] {
			return bad("device %d: peer %s listed twice", i, dv.Peer)
		}
		seen[dv.Peer] = true
		if err := checkName(dv.Name); err != nil {
			return bad("device %d: %v", i, err)
		}
		if len(dv.Addrs) > MaxAddrs {
			return bad("device %d: %d addresses (at most %d)", i, len(dv.Addrs), MaxAddrs)
		}
		for _, a := range dv.Addrs {
			if err := checkAddr(a); err != nil {
				return bad("device %d: %v", i, err)
			}
		}
	}
	if len(b.RSAKey) == 0 || len(b.RSAKey) > MaxRSAKeyDER {
		return bad("rsa_key of %d bytes (1 to %d)", len(b.RSAKey), MaxRSAKeyDER)
	}
	if _, err := b.RSAPrivateKey(); err != nil { // last: the one expensive check
		return err
	}
	return nil
}

// checkHandle accepts user@host[:port] in its normal form: a lower-case user part of
// letters, digits and ._- and a host of ASCII letters, digits, '.', '-', an optional port
// or a bracketed IPv6 literal. pod/diaspora/id is the full rule; this refuses what could
// never pass it.
func checkHandle(s string) error {
	if len(s) < 3 || len(s) > MaxHandleLen {
		return fmt.Errorf("%q: want 3 to %d bytes", clip(s, 80), MaxHandleLen)
	}
	user, host, ok := strings.Cut(s, "@")
	if !ok || user == "" || host == "" || strings.Contains(host, "@") {
		return fmt.Errorf("%q: want user@host", clip(s, 80))
	}
	for _, r := range user {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' || r > 0x7f && unicode.IsLower(r)) {
			return fmt.Errorf("%q: user part holds %q", clip(s, 80), r)
		}
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return fmt.Errorf("%q: host holds %q", clip(s, 80), c)
		}
	}
	return nil
}

func checkRelayURL(s string) error {
	if s == "" || len(s) > MaxRelayURLLen {
		return fmt.Errorf("%q: want 1 to %d bytes", clip(s, 80), MaxRelayURLLen)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", clip(s, 80), err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%q: want an http(s) URL with a host, no user or fragment", clip(s, 80))
	}
	return nil
}
