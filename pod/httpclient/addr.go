package httpclient

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrForbiddenAddress is wrapped by every refusal of the dial guard: a
// special-purpose address, or a network other than tcp4/tcp6.
var ErrForbiddenAddress = errors.New("httpclient: forbidden address")

// AddressError says which address was refused and why. It unwraps to
// ErrForbiddenAddress, so callers test with errors.Is and never retry it.
type AddressError struct {
	Addr  netip.Addr   // the address as dialled (mapped/zoned form kept)
	Range netip.Prefix // the refused range, when there is one
	Why   string       // the range's IANA name or the reason
}

func (e *AddressError) Error() string {
	if e.Range.IsValid() {
		return fmt.Sprintf("%v: %v is in %v (%s)", ErrForbiddenAddress, e.Addr, e.Range, e.Why)
	}
	return fmt.Sprintf("%v: %v (%s)", ErrForbiddenAddress, e.Addr, e.Why)
}

func (e *AddressError) Unwrap() error { return ErrForbiddenAddress }

type special struct {
	p    netip.Prefix
	name string
}

func sp(p, name string) special { return special{netip.MustParsePrefix(p), name} }

// v4Special is the IANA IPv4 special-purpose registry, every entry refused
// (the globally reachable AS112/AMT blocks are ordinary unicast and are not
// listed). Order matters only for the name in errors: the broadcast address
// comes before 240/4, which contains it.
var v4Special = []special{
	sp("0.0.0.0/8", "this network"),
	sp("10.0.0.0/8", "private-use"),
	sp("100.64.0.0/10", "shared address space (CGNAT)"),
	sp("127.0.0.0/8", "loopback"),
	sp("169.254.0.0/16", "link-local"),
	sp("172.16.0.0/12", "private-use"),
	sp("192.0.0.0/24", "IETF protocol assignments"),
	sp("192.0.2.0/24", "documentation TEST-NET-1"),
	sp("192.88.99.0/24", "6to4 relay anycast"),
	sp("192.168.0.0/16", "private-use"),
	sp("198.18.0.0/15", "benchmarking"),
	sp("198.51.100.0/24", "documentation TEST-NET-2"),
	sp("203.0.113.0/24", "documentation TEST-NET-3"),
	sp("224.0.0.0/4", "multicast"),
	sp("255.255.255.255/32", "limited broadcast"),
	sp("240.0.0.0/4", "reserved"),
}

// v6Special names the IPv6 blocks refused. Only 2000::/3 is ever allowed, so
// the entries outside it are here for precise error messages; the entries
// inside it are the actual holes punched in 2000::/3.
var v6Special = []special{
	sp("::/128", "unspecified"),
	sp("::1/128", "loopback"),
	sp("::/96", "IPv4-compatible (deprecated)"),
	sp("64:ff9b::/96", "NAT64 well-known prefix (may translate to private IPv4)"),
	sp("64:ff9b:1::/48", "NAT64 local-use"),
	sp("100::/64", "discard-only"),
	sp("fc00::/7", "unique local"),
	sp("fe80::/10", "link-local"),
	sp("fec0::/10", "site-local (deprecated)"),
	sp("ff00::/8", "multicast"),
	// Holes inside 2000::/3. 2001::/23 holds Teredo, benchmarking, ORCHID
	// and a few globally reachable service blocks; we refuse it whole
	// (strict: no diaspora pod lives there).
	sp("2001:db8::/32", "documentation"),
	sp("2001::/23", "IETF protocol assignments (incl. Teredo)"),
	sp("2002::/16", "6to4 (embeds an arbitrary IPv4)"),
	sp("3fff::/20", "documentation"),
}

var (
	loopback4 = netip.MustParsePrefix("127.0.0.0/8")
	global6   = netip.MustParsePrefix("2000::/3")
)

// Allowed is the dial guard's classifier, a pure function: nil if addr may
// be dialled, else an *AddressError (wrapping ErrForbiddenAddress) naming the
// address and the range. IPv4 is allowed unless it is in an IANA
// special-purpose range; IPv6 only inside global unicast 2000::/3 minus the
// documentation, protocol-assignment and 6to4 blocks. IPv4-mapped addresses
// (::ffff:a.b.c.d) are judged by their IPv4. allowLoopback (tests only)
// permits 127.0.0.0/8 and ::1 and nothing else.
func Allowed(addr netip.Addr, allowLoopback bool) error {
	orig := addr
	if !addr.IsValid() {
		return &AddressError{Addr: orig, Why: "invalid address"}
	}
	addr = addr.WithZone("")
	if addr.Is4In6() {
		addr = addr.Unmap()
	}
	if addr.Is4() {
		if allowLoopback && loopback4.Contains(addr) {
			return nil
		}
		for _, s := range v4Special {
			if s.p.Contains(addr) {
				return &AddressError{Addr: orig, Range: s.p, Why: s.name}
			}
		}
		return nil
	}
	if allowLoopback && addr == netip.IPv6Loopback() {
		return nil
	}
	for _, s := range v6Special {
		if s.p.Contains(addr) {
			return &AddressError{Addr: orig, Range: s.p, Why: s.name}
		}
	}
	if !global6.Contains(addr) {
		return &AddressError{Addr: orig, Range: global6, Why: "outside global unicast"}
	}
	return nil
}

// checkDial is the socket-level guard run by net.Dialer.ControlContext on the
// address actually being connected to (after DNS), so a name that resolves
// to, or is rebound to, a private address is refused.
func checkDial(network, address string, allowLoopback bool) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %q is not tcp4/tcp6 (dialling %s)", ErrForbiddenAddress, network, address)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable socket address %q: %v", ErrForbiddenAddress, address, err)
	}
	return Allowed(ap.Addr(), allowLoopback)
}
