package httpclient

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestAllowed is the classifier over netip values only: nothing is dialled.
func TestAllowed(t *testing.T) {
	refused := []string{
		// IPv4 special-purpose registry, first, inner and last addresses.
		"0.0.0.0", "0.1.2.3", "0.255.255.255",
		"10.0.0.0", "10.1.2.3", "10.255.255.255",
		"100.64.0.0", "100.100.100.100", "100.127.255.255",
		"127.0.0.1", "127.255.255.254",
		"169.254.0.1", "169.254.169.254",
		"172.16.0.1", "172.20.1.1", "172.31.255.255",
		"192.0.0.1", "192.0.0.255",
		"192.0.2.1", "192.88.99.1",
		"192.168.0.1", "192.168.255.255",
		"198.18.0.1", "198.19.255.255",
		"198.51.100.7", "203.0.113.9",
		"224.0.0.1", "239.255.255.250",
		"240.0.0.1", "255.255.255.254", "255.255.255.255",
		// IPv4-mapped: judged by their IPv4.
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:192.168.1.1",
		// IPv6.
		"::", "::1", "::10.0.0.1", "::8.8.8.8", // unspecified, loopback, compat
		"64:ff9b::a00:1", "64:ff9b::808:808", "64:ff9b:1::1", // NAT64
		"100::1",
		"fc00::1", "fd12:3456::1",
		"fe80::1", "fe80::1%eth0", "febf::1", "fec0::1",
		"ff02::1", "ff0e::1",
		"2001::1", "2001:0:4136:e378::1", "2001:1ff:ffff::1", "2001:2::1", "2001:20::1", // 2001::/23
		"2001:db8::1", "2001:db8:ffff::1",
		"2002::1", "2002:c0a8:101::1", // 6to4
		"3fff::1", "3fff:fff:ffff::1", // documentation RFC 9637
		"4000::1", "8000::1", "1fff:ffff::1", "e000::1", // outside 2000::/3
	}
	allowed := []string{
		"1.1.1.1", "8.8.8.8", "9.9.9.9", "100.63.255.255", "100.128.0.0",
		"172.15.255.255", "172.32.0.0", "192.0.3.1", "192.169.0.1", "198.17.255.255",
		"198.20.0.0", "223.255.255.255", "::ffff:1.1.1.1",
		"2606:4700::1111", "2a00:1450:4001::1", "2001:200::1", "2003::1", "2620:fe::fe", "3ffe::1",
	}
	for _, s := range refused {
		t.Run("refuse/"+s, func(t *testing.T) {
			a := netip.MustParseAddr(s)
			err := Allowed(a, false)
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("Allowed(%s) = %v, want ErrForbiddenAddress", s, err)
			}
			var ae *AddressError
			if !errors.As(err, &ae) || ae.Addr != a || !strings.Contains(err.Error(), a.String()) {
				t.Fatalf("error %q does not name %s", err, a)
			}
			if !ae.Range.IsValid() {
				t.Fatalf("error %q names no range", err)
			}
		})
	}
	for _, s := range allowed {
		t.Run("allow/"+s, func(t *testing.T) {
			for _, lb := range []bool{false, true} {
				if err := Allowed(netip.MustParseAddr(s), lb); err != nil {
					t.Fatalf("Allowed(%s, %v) = %v", s, lb, err)
				}
			}
		})
	}
	if err := Allowed(netip.Addr{}, true); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("zero Addr: %v", err)
	}
}

// TestAllowLoopback: the test switch opens loopback and nothing else.
func TestAllowLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true}, {"::ffff:127.0.0.1", true},
		{"10.0.0.1", false}, {"192.168.1.1", false}, {"169.254.169.254", false}, {"0.0.0.0", false},
		{"::", false}, {"fe80::1", false}, {"fc00::1", false}, {"::ffff:10.0.0.1", false}, {"64:ff9b::7f00:1", false},
	} {
		err := Allowed(netip.MustParseAddr(tc.addr), true)
		if (err == nil) != tc.ok {
			t.Errorf("Allowed(%s, true) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

func TestCheckDial(t *testing.T) {
	for _, tc := range []struct {
		network, address string
		ok               bool
	}{
		{"tcp4", "127.0.0.1:443", true},
		{"tcp6", "[::1]:443", true},
		{"tcp4", "1.1.1.1:443", true},
		{"tcp6", "[2606:4700::1111]:443", true},
		{"udp4", "127.0.0.1:53", false},
		{"udp6", "[::1]:53", false},
		{"unix", "/run/x.sock", false},
		{"ip4", "127.0.0.1", false},
		{"tcp4", "10.0.0.1:80", false},
		{"tcp6", "[fe80::1%lo]:80", false},
		{"tcp4", "not-an-address:80", false},
	} {
		err := checkDial(tc.network, tc.address, true)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrForbiddenAddress)) {
			t.Errorf("checkDial(%s, %s) = %v, want ok=%v", tc.network, tc.address, err, tc.ok)
		}
	}
}
