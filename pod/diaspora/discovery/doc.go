// Package discovery owns the diaspora* discovery documents (PROTOCOL.md §2):
// WebFinger in its JRD form and its legacy XRD form, host-meta, the hCard
// profile card and NodeInfo (the /.well-known/nodeinfo index and the 2.0/2.1
// documents). It builds them exactly as the reference emits them and parses
// them leniently, but validates everything a pod trusts: the subject must be
// the ID that was asked for, every URL it exposes is http(s) with a host, the
// public key parses.
//
// It is pure: no HTTP, no files, no database; URLs are only strings. Parsers
// take a []byte capped at MaxDocSize, and XML is read with a strict decoder
// that refuses DOCTYPEs and bounds depth and element count. It imports only
// the standard library, golang.org/x/net/html, and seedpod/pod/diaspora/id
// and /keys; it must not import anything that reaches the network or disk.
package discovery

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxDocSize is the largest discovery document any parser accepts. Real
// documents are 1–10 KiB (an hCard with a 4096-bit key is ~3 KiB); the cap
// leaves ample headroom while bounding parser work on hostile input.
const MaxDocSize = 256 << 10

// Limits on repeated items. diaspora emits 1 alias and 7 links; the caps only
// stop hostile documents from making us build huge slices.
const (
	maxLinks   = 100
	maxAliases = 100
)

var (
	// ErrTooLarge means the document exceeds MaxDocSize.
	ErrTooLarge = errors.New("discovery document too large")
	// ErrMalformed means the document is not well-formed JSON, XML or
	// UTF-8 HTML, or uses a construct we refuse (DOCTYPE, entities, too deep).
	ErrMalformed = errors.New("malformed discovery document")
	// ErrInvalid means a field is missing or has a value we refuse; the
	// wrapping error names the field and the value.
	ErrInvalid = errors.New("invalid discovery document")
	// ErrSubjectMismatch means a WebFinger document describes another
	// account than the one asked for.
	ErrSubjectMismatch = errors.New("webfinger subject does not match the requested ID")
	// ErrUnsupported means a NodeInfo version this package does not read.
	ErrUnsupported = errors.New("unsupported NodeInfo version")
)

func checkSize(doc []byte) error {
	if len(doc) > MaxDocSize {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(doc), MaxDocSize)
	}
	return nil
}

// invalid wraps ErrInvalid with the field and (shortened) value.
func invalid(field, value, why string) error {
	return fmt.Errorf("%w: %s %q: %s", ErrInvalid, field, short(value), why)
}

func short(s string) string {
	const n = 120
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// checkHTTPURL validates an absolute http(s) URL with a host and no
// userinfo; needPath additionally requires a non-empty path (the reference's
// "URI with host and path" rule).
func checkHTTPURL(field, raw string, needPath bool) error {
	if raw == "" {
		return invalid(field, raw, "missing")
	}
	if strings.ContainsAny(raw, " \t\r\n\x00") {
		return invalid(field, raw, "contains whitespace or NUL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid(field, raw, "not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid(field, raw, "scheme must be http or https")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return invalid(field, raw, "no host")
	}
	if u.User != nil {
		return invalid(field, raw, "userinfo not allowed")
	}
	if needPath && u.Path == "" {
		return invalid(field, raw, "no path")
	}
	return nil
}

// checkTemplate validates a URL template holding "{uri}" (subscribe and
// lrdd templates): the template with {uri} substituted must be a valid
// http(s) URL, and the placeholder may not sit in the scheme or host.
func checkTemplate(field, tmpl string) error {
	if !strings.Contains(tmpl, "{uri}") {
		return invalid(field, tmpl, "no {uri} placeholder")
	}
	i := strings.Index(tmpl, "://")
	if i < 0 {
		return invalid(field, tmpl, "not an absolute URL")
	}
	auth := tmpl[i+3:]
	if j := strings.IndexAny(auth, "/?#"); j >= 0 {
		auth = auth[:j]
	}
	if strings.ContainsAny(auth, "{}") {
		return invalid(field, tmpl, "placeholder in the host")
	}
	return checkHTTPURL(field, strings.ReplaceAll(tmpl, "{uri}", "acct:x@example.org"), false)
}

// podBase validates a pod's base URL (http(s), host, no path beyond "/":
// diaspora builds every URL from scheme/host/port, §13.17) and returns it
// without the trailing slash.
func podBase(pod string) (string, error) {
	if err := checkHTTPURL("pod URL", pod, false); err != nil {
		return "", err
	}
	u, _ := url.Parse(pod)
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", invalid("pod URL", pod, "must have no path, query or fragment")
	}
	return u.Scheme + "://" + u.Host, nil
}
