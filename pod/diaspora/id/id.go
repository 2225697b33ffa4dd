// Package id owns diaspora* identifiers: diaspora IDs (user@host[:port]) and
// GUIDs — their validation and the normalisation every comparison and lookup
// must go through (PROTOCOL.md §2.4, §9).
//
// It is pure: no network, no database.
package id

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxLen is the longest diaspora ID the reference accepts.
const MaxLen = 255

// ErrInvalid is wrapped by every rejection.
var ErrInvalid = errors.New("invalid diaspora ID")

// ErrInvalidGUID is returned for a malformed GUID.
var ErrInvalidGUID = errors.New("invalid GUID")

var (
	// strictRE is the reference validator (ASCII approximation of
	// validators/rules/diaspora_id.rb), applied to normalised IDs.
	strictRE = regexp.MustCompile(`^[\p{Ll}0-9._-]+@(?:[a-z0-9-]+(?:\.[a-z0-9-]*)*|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])(?::\d+)?$`)
	guidRE   = regexp.MustCompile(`^[0-9A-Za-z_@.:-]{15,254}[0-9A-Za-z]$`)
	labelRE  = regexp.MustCompile(`^[a-z0-9-]+$`)
)

// idnaProfile maps a host the way a browser's address bar does (lowercase,
// Unicode normalisation) and converts it to its ASCII (punycode) form.
var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false))

// Normalize returns the canonical form of a diaspora ID as written by a
// person or a remote document: surrounding space and an "acct:" prefix
// removed, lowercased, the host's trailing dot dropped, an internationalised
// host in its ASCII (punycode) form, an explicit port kept but made canonical
// (no leading zeros). The result passes Valid.
func Normalize(s string) (string, error) {
	in := s
	s = strings.TrimSpace(s)
	if len(s) >= 5 && strings.EqualFold(s[:5], "acct:") {
		s = s[5:]
	}
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalid, in)
	}
	if len(s) > 4*MaxLen {
		return "", fmt.Errorf("%w: %d bytes is far too long", ErrInvalid, len(s))
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", fmt.Errorf("%w: %q is not user@host", ErrInvalid, in)
	}
	user := strings.ToLower(s[:at])
	for _, r := range user {
		if !(unicode.IsLower(r) || ('0' <= r && r <= '9') || r == '.' || r == '_' || r == '-') {
			return "", fmt.Errorf("%w: %q: the user part may hold only letters, digits, '.', '_' and '-'", ErrInvalid, in)
		}
	}
	host, port, err := splitHostPort(s[at+1:])
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalid, in, err)
	}
	out := user + "@" + host
	if port != "" {
		out += ":" + port
	}
	if len(out) > MaxLen {
		return "", fmt.Errorf("%w: %q is longer than %d characters", ErrInvalid, in, MaxLen)
	}
	if !strictRE.MatchString(out) {
		return "", fmt.Errorf("%w: %q", ErrInvalid, in)
	}
	return out, nil
}

// splitHostPort canonicalises "host", "host:port", "[v6]" or "[v6]:port".
func splitHostPort(hp string) (host, port string, err error) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", "", errors.New("unclosed IPv6 literal")
		}
		addr, err := netip.ParseAddr(hp[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", "", fmt.Errorf("bad IPv6 literal %q", hp[:end+1])
		}
		host = "[" + addr.String() + "]"
		rest := hp[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", "", fmt.Errorf("unexpected %q after the IPv6 literal", rest)
			}
			port = rest[1:]
		}
	} else {
		host = hp
		if i := strings.LastIndexByte(hp, ':'); i >= 0 {
			host, port = hp[:i], hp[i+1:]
			if port == "" {
				return "", "", errors.New("empty port")
			}
		}
		host = strings.TrimSuffix(host, ".")
		if host == "" {
			return "", "", errors.New("empty host")
		}
		if a, err := netip.ParseAddr(host); err == nil {
			if !a.Is4() {
				return "", "", errors.New("an IPv6 host must be in brackets")
			}
			host = a.String()
		} else {
			ascii, err := idnaProfile.ToASCII(host)
			if err != nil {
				return "", "", fmt.Errorf("host %q: %v", host, err)
			}
			host = strings.ToLower(ascii)
			// The ASCII form must be stable: punycode that decodes to
			// something the profile rejects would fail on its next lookup.
			if again, err := idnaProfile.ToASCII(host); err != nil || again != host {
				return "", "", fmt.Errorf("host %q does not have a stable ASCII form", host)
			}
			for _, l := range strings.Split(host, ".") {
				if !labelRE.MatchString(l) {
					return "", "", fmt.Errorf("host label %q", l)
				}
			}
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.TrimLeft(port, "0") != port {
			return "", "", fmt.Errorf("bad port %q", port)
		}
	}
	return host, port, nil
}

// Valid reports whether s is a diaspora ID in canonical form: exactly what
// the reference's validator accepts, and what Normalize returns.
func Valid(s string) bool {
	if len(s) > MaxLen || !strictRE.MatchString(s) {
		return false
	}
	n, err := Normalize(s)
	return err == nil && n == s
}

// Split returns the user and the host[:port] of a valid ID.
func Split(id string) (user, hostport string) {
	at := strings.LastIndexByte(id, '@')
	if at < 0 {
		return id, ""
	}
	return id[:at], id[at+1:]
}

// ValidGUID reports whether s is a GUID the reference accepts: 16–255
// characters of [0-9A-Za-z_@.:-], ending alphanumeric. GUIDs are
// case-sensitive and are never normalised.
func ValidGUID(s string) bool { return guidRE.MatchString(s) }

// CheckGUID is ValidGUID with an error naming the value.
func CheckGUID(s string) error {
	if !ValidGUID(s) {
		return fmt.Errorf("%w: %q", ErrInvalidGUID, truncate(s, 80))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
