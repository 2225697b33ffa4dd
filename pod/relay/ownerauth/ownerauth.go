// Package ownerauth owns the authentication of the relay's owner API: the
// signature an identity's devices put on every request, its wire format, and
// the clock-skew and replay rules a relay applies when checking it.
//
// It works at the net/http level only. It does not store keys or nonces
// itself: the caller passes in a KeyLookup (the identity's public key) and a
// NonceStore (MemoryNonces is a bounded in-memory one). It must not import the
// database, the relay's handlers or anything that reaches the network; it
// imports only the standard library and seedpod/pod/diaspora/keys.
//
// # Wire format
//
// A signed request carries five headers, each exactly once:
//
//	X-Seedpod-Identity:  the identity the request acts as; 1…255 bytes of
//	                     a-z 0-9 . _ - @ :
//	X-Seedpod-Timestamp: unix seconds, decimal, no sign, no leading zeros
//	X-Seedpod-Nonce:     22…64 characters of base64url (A-Z a-z 0-9 - _, no
//	                     padding); at least 128 random bits, fresh per request
//	X-Seedpod-Digest:    "sha-256=" followed by the standard, padded base64 of
//	                     the SHA-256 of the request body (of the empty string
//	                     when there is no body)
//	X-Seedpod-Signature: standard, padded base64 of the RSASSA-PKCS1-v1_5
//	                     SHA-256 signature of the signing string, made with the
//	                     identity's RSA key (the diaspora* key)
//
// The signing string is seven lines joined by a single "\n" (0x0A), with no
// trailing newline:
//
//	METHOD          the request method exactly as sent ("GET", "POST", …)
//	REQUEST-URI     the request target exactly as sent on the request line:
//	                path and query, e.g. "/api/v1/posts?limit=20"
//	HOST            the Host header, ASCII-lowercased, with the port if one
//	                was sent, e.g. "relay.example.org" or "127.0.0.1:8443"
//	IDENTITY        the X-Seedpod-Identity value
//	TIMESTAMP       the X-Seedpod-Timestamp value
//	NONCE           the X-Seedpod-Nonce value
//	DIGEST          the X-Seedpod-Digest value, "sha-256=" prefix included
//
// For example:
//
//	POST
//	/api/v1/posts?draft=1
//	relay.example.org
//	alice@relay.example.org
//	1767225600
//	q3J0bWFf0P8lZ9oQeH2WcA
//	sha-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
//
// None of the seven values may contain CR or LF; the line structure is
// therefore unambiguous.
//
// # Rules a relay applies
//
// In this order, so that nothing about an identity's existence leaks before the
// signature is checked and unauthenticated traffic cannot fill the nonce store:
//
//  1. No signature header at all: ErrUnsigned. Some missing, repeated, too long
//     or garbled: ErrMalformed.
//  2. The timestamp must be within ±MaxSkew (default 5 minutes) of the relay's
//     clock: ErrExpired.
//  3. The digest must match the body: ErrDigest.
//  4. The identity must have a key: ErrUnknownIdentity; the signature must
//     verify with it: ErrBadSignature. Middleware answers both identically.
//  5. Only then is (identity, nonce) remembered until timestamp+MaxSkew; a
//     nonce already remembered is ErrReplayed. Because a request is only
//     accepted while its timestamp is within MaxSkew, a nonce forgotten after
//     timestamp+MaxSkew can no longer be replayed.
package ownerauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"seedpod/pod/diaspora/keys"
)

// Header names of a signed owner API request.
const (
	HeaderIdentity  = "X-Seedpod-Identity"  // the username (or diaspora ID) the request acts as
	HeaderTimestamp = "X-Seedpod-Timestamp" // unix seconds
	HeaderNonce     = "X-Seedpod-Nonce"     // 128+ random bits, base64url, ≤ 64 chars
	HeaderDigest    = "X-Seedpod-Digest"    // "sha-256=" + base64(sha256(body))
	HeaderSignature = "X-Seedpod-Signature" // base64 RSA-SHA256 over the signing string
)

// Errors Verify wraps; test with errors.Is.
var (
	ErrUnsigned        = errors.New("request is not signed")
	ErrMalformed       = errors.New("malformed request signature")
	ErrUnknownIdentity = errors.New("unknown identity")
	ErrBadSignature    = errors.New("request signature does not verify")
	ErrExpired         = errors.New("request timestamp outside the allowed clock skew")
	ErrReplayed        = errors.New("request nonce already used")
	ErrDigest          = errors.New("request body does not match its digest")
)

// Limits on header values. They bound the work done on unauthenticated input
// and the size of what a NonceStore keeps.
const (
	MaxIdentityLen = 255
	MinNonceLen    = 22 // 128 bits in unpadded base64url
	MaxNonceLen    = 64
	// maxTimestampLen allows any unix time up to year ~33 million while
	// keeping the parse away from overflow.
	maxTimestampLen = 18
	// digestLen is len("sha-256=") + 44 base64 characters of a SHA-256.
	digestLen = len(digestPrefix) + 44
	// maxSignatureLen fits an 8192-bit signature (keys.MaxBits): 1024 bytes
	// are 1368 base64 characters.
	maxSignatureLen = 1368
	maxMethodLen    = 32
	maxRequestURI   = 8 << 10
	maxHostLen      = 300
)

const digestPrefix = "sha-256="

// nonceBytes is the number of random bytes Sign puts in a nonce: 128 bits.
const nonceBytes = 16

// Fields are the seven values a request signature covers.
type Fields struct {
	Method     string
	RequestURI string // path and query as sent on the request line
	Host       string // as sent; SigningString lowercases it
	Identity   string
	Timestamp  int64 // unix seconds
	Nonce      string
	Digest     string // "sha-256=…", see Digest
}

// SigningString returns the bytes a request signature is made over: the seven
// fields joined by "\n", in the order and form given in the package doc.
func (f Fields) SigningString() []byte {
	return []byte(strings.Join([]string{
		f.Method,
		f.RequestURI,
		strings.ToLower(f.Host),
		f.Identity,
		strconv.FormatInt(f.Timestamp, 10),
		f.Nonce,
		f.Digest,
	}, "\n"))
}

// Digest returns the X-Seedpod-Digest value for body.
func Digest(body []byte) string {
	h := sha256.Sum256(body)
	return digestPrefix + base64.StdEncoding.EncodeToString(h[:])
}

// Sign sets the five signature headers on an outgoing request, acting as
// identity, with a fresh random nonce and the timestamp now. body must be the
// exact bytes the request will send (nil for none). The request's Host (or
// URL.Host when Host is empty) and URL must be what will go on the wire.
func Sign(req *http.Request, body []byte, identity string, key *rsa.PrivateKey, now time.Time) error {
	if key == nil {
		return errors.New("sign owner request: no private key")
	}
	if req.URL == nil {
		return errors.New("sign owner request: request has no URL")
	}
	if err := checkIdentity(identity); err != nil {
		return fmt.Errorf("sign owner request: %w", err)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet // what net/http sends for an empty Method
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	f := Fields{
		Method:     method,
		RequestURI: req.URL.RequestURI(), // what net/http puts on the request line
		Host:       host,
		Identity:   identity,
		Timestamp:  now.Unix(),
		Nonce:      newNonce(),
		Digest:     Digest(body),
	}
	if err := f.checkRequestLine(); err != nil {
		return fmt.Errorf("sign owner request: %w", err)
	}
	sig, err := keys.Sign(key, f.SigningString())
	if err != nil {
		return fmt.Errorf("sign owner request as %q: %w", identity, err)
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	req.Header.Set(HeaderIdentity, f.Identity)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(f.Timestamp, 10))
	req.Header.Set(HeaderNonce, f.Nonce)
	req.Header.Set(HeaderDigest, f.Digest)
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	return nil
}

func newNonce() string {
	b := make([]byte, nonceBytes)
	rand.Read(b) // never returns an error (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signed is a request's parsed signature headers.
type signed struct {
	Fields
	sig []byte
}

var signatureHeaders = [...]string{HeaderIdentity, HeaderTimestamp, HeaderNonce, HeaderDigest, HeaderSignature}

// parse reads and checks the form of a request's signature headers and
// request line. It does no cryptography and no lookups.
func parse(req *http.Request) (*signed, error) {
	var vals [len(signatureHeaders)]string
	present := 0
	for i, name := range signatureHeaders {
		vs := req.Header.Values(name)
		switch len(vs) {
		case 0:
			continue
		case 1:
			vals[i] = vs[0]
			present++
		default:
			return nil, fmt.Errorf("%w: header %s appears %d times", ErrMalformed, name, len(vs))
		}
	}
	if present == 0 {
		return nil, ErrUnsigned
	}
	if present < len(signatureHeaders) {
		for _, name := range signatureHeaders {
			if req.Header.Values(name) == nil {
				return nil, fmt.Errorf("%w: header %s missing", ErrMalformed, name)
			}
		}
	}
	identity, tsText, nonce, digest, sigText := vals[0], vals[1], vals[2], vals[3], vals[4]

	if err := checkIdentity(identity); err != nil {
		return nil, err
	}
	ts, err := parseTimestamp(tsText)
	if err != nil {
		return nil, err
	}
	if err := checkNonce(nonce); err != nil {
		return nil, err
	}
	if len(digest) != digestLen || !strings.HasPrefix(digest, digestPrefix) {
		return nil, fmt.Errorf("%w: header %s is not %q and a base64 SHA-256", ErrMalformed, HeaderDigest, digestPrefix)
	}
	if d, err := base64.StdEncoding.Strict().DecodeString(digest[len(digestPrefix):]); err != nil || len(d) != sha256.Size {
		return nil, fmt.Errorf("%w: header %s is not %q and a base64 SHA-256", ErrMalformed, HeaderDigest, digestPrefix)
	}
	if len(sigText) == 0 || len(sigText) > maxSignatureLen {
		return nil, fmt.Errorf("%w: header %s is %d characters (1…%d)", ErrMalformed, HeaderSignature, len(sigText), maxSignatureLen)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sigText)
	if err != nil {
		return nil, fmt.Errorf("%w: header %s is not base64: %v", ErrMalformed, HeaderSignature, err)
	}

	uri, err := requestURI(req)
	if err != nil {
		return nil, err
	}
	s := &signed{
		Fields: Fields{
			Method:     req.Method,
			RequestURI: uri,
			Host:       req.Host,
			Identity:   identity,
			Timestamp:  ts,
			Nonce:      nonce,
			Digest:     digest,
		},
		sig: sig,
	}
	if err := s.checkRequestLine(); err != nil {
		return nil, err
	}
	return s, nil
}

// requestURI is the request target as the client sent it. A server request
// carries it in RequestURI; absolute-form targets ("https://host/path"), and
// requests built in memory, fall back to the parsed URL, which is what
// net/http's client sends.
func requestURI(req *http.Request) (string, error) {
	if strings.HasPrefix(req.RequestURI, "/") {
		return req.RequestURI, nil
	}
	if req.URL == nil {
		return "", fmt.Errorf("%w: request has no URL", ErrMalformed)
	}
	return req.URL.RequestURI(), nil
}

// checkRequestLine checks the three values that come from the request line
// and Host header rather than from the signature headers.
func (f *Fields) checkRequestLine() error {
	switch {
	case f.Method == "" || len(f.Method) > maxMethodLen || strings.ContainsAny(f.Method, "\r\n \t"):
		return fmt.Errorf("%w: unusable method %.40q", ErrMalformed, f.Method)
	case !strings.HasPrefix(f.RequestURI, "/") || len(f.RequestURI) > maxRequestURI || strings.ContainsAny(f.RequestURI, "\r\n"):
		return fmt.Errorf("%w: unusable request URI %.80q", ErrMalformed, f.RequestURI)
	case f.Host == "" || len(f.Host) > maxHostLen || strings.ContainsAny(f.Host, "\r\n"):
		return fmt.Errorf("%w: unusable host %.80q", ErrMalformed, f.Host)
	}
	return nil
}

func checkIdentity(s string) error {
	if len(s) == 0 || len(s) > MaxIdentityLen {
		return fmt.Errorf("%w: identity is %d bytes (1…%d)", ErrMalformed, len(s), MaxIdentityLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@' || c == ':') {
			return fmt.Errorf("%w: identity has byte %q at %d (allowed: a-z 0-9 . _ - @ :)", ErrMalformed, c, i)
		}
	}
	return nil
}

func parseTimestamp(s string) (int64, error) {
	if len(s) == 0 || len(s) > maxTimestampLen {
		return 0, fmt.Errorf("%w: header %s is %d characters (1…%d)", ErrMalformed, HeaderTimestamp, len(s), maxTimestampLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: header %s is not decimal unix seconds", ErrMalformed, HeaderTimestamp)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%w: header %s has leading zeros", ErrMalformed, HeaderTimestamp)
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil { // unreachable with ≤ 18 digits; kept so a limit change cannot overflow silently
		return 0, fmt.Errorf("%w: header %s: %v", ErrMalformed, HeaderTimestamp, err)
	}
	return ts, nil
}

func checkNonce(s string) error {
	if len(s) < MinNonceLen || len(s) > MaxNonceLen {
		return fmt.Errorf("%w: header %s is %d characters (%d…%d)", ErrMalformed, HeaderNonce, len(s), MinNonceLen, MaxNonceLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: header %s is not unpadded base64url", ErrMalformed, HeaderNonce)
		}
	}
	return nil
}
