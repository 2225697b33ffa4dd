package pair

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestBundleRoundTrip(t *testing.T) {
	b := testBundle(t, testPeer(t, 1), testPeer(t, 2))
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, b)
	}
	k, err := got.RSAPrivateKey()
	if err != nil || k.N.BitLen() != 2048 {
		t.Fatalf("key: %v", err)
	}
	// The key never prints.
	key64 := base64.StdEncoding.EncodeToString(b.RSAKey)[:40]
	for _, s := range []string{fmt.Sprint(b), fmt.Sprintf("%v %+v %#v %s", b, b, b, b)} {
		if strings.Contains(s, key64) || strings.Contains(s, fmt.Sprint(b.RSAKey[:8])) {
			t.Fatalf("bundle prints its key: %s", s)
		}
	}
}

func TestParseBundleErrors(t *testing.T) {
	e, n := testPeer(t, 1), testPeer(t, 2)
	good := testBundle(t, e, n)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	// change returns the good bundle's JSON with one field changed (bypassing Marshal's checks).
	change := func(f func(m map[string]any)) []byte {
		data, err := json.Marshal(good)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		data, err = json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	devs := func(d ...map[string]any) []any {
		out := make([]any, len(d))
		for i := range d {
			out[i] = d[i]
		}
		return out
	}
	many := make([]any, MaxBundleDevices+1)
	for i := range many {
		many[i] = map[string]any{"peer": testPeer(t, byte(i)), "name": "d"}
	}
	goodJSON, _ := good.Marshal()
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "EOF"},
		{"not json", []byte("seedpod"), "invalid character"},
		{"array", []byte("[]"), "cannot unmarshal array"},
		{"unknown field", change(func(m map[string]any) { m["password"] = "x" }), `unknown field "password"`},
		{"unknown device field", change(func(m map[string]any) {
			m["devices"] = devs(map[string]any{"peer": e, "name": "a", "admin": true})
		}), `unknown field "admin"`},
		{"trailing data", append(bytes.Clone(goodJSON), []byte(` {}`)...), "data after"},
		{"two objects", append(bytes.Clone(goodJSON), goodJSON...), "data after"},
		{"too large", bytes.Repeat([]byte(" "), MaxBundle+1), "too large"},
		{"version 0", change(func(m map[string]any) { delete(m, "version") }), "bundle version 0"},
		{"version 2", change(func(m map[string]any) { m["version"] = 2 }), "bundle version 2"},
		{"no handle", change(func(m map[string]any) { m["handle"] = "" }), "handle"},
		{"handle without host", change(func(m map[string]any) { m["handle"] = "alice@" }), "handle"},
		{"handle upper case", change(func(m map[string]any) { m["handle"] = "Alice@relay.example.org" }), "handle"},
		{"handle with space", change(func(m map[string]any) { m["handle"] = "alice@relay example.org" }), "handle"},
		{"guid short", change(func(m map[string]any) { m["guid"] = "abc" }), "guid"},
		{"guid bad char", change(func(m map[string]any) { m["guid"] = "0123456789abcdef/0123" }), "guid"},
		{"relay ftp", change(func(m map[string]any) { m["relay_url"] = "ftp://relay.example.org" }), "relay_url"},
		{"relay no host", change(func(m map[string]any) { m["relay_url"] = "https://" }), "relay_url"},
		{"relay userinfo", change(func(m map[string]any) { m["relay_url"] = "https://a:b@relay.example.org" }), "relay_url"},
		{"no devices", change(func(m map[string]any) { m["devices"] = nil }), "0 devices"},
		{"too many devices", change(func(m map[string]any) { m["devices"] = many }), "257 devices"},
		{"device twice", change(func(m map[string]any) {
			m["devices"] = devs(map[string]any{"peer": e, "name": "a"}, map[string]any{"peer": e, "name": "b"})
		}), "listed twice"},
		{"device bad peer", change(func(m map[string]any) { m["devices"] = devs(map[string]any{"peer": "QmNope", "name": "a"}) }), "bad peer ID"},
		{"device no name", change(func(m map[string]any) { m["devices"] = devs(map[string]any{"peer": e, "name": ""}) }), "device name"},
		{"device name control", change(func(m map[string]any) { m["devices"] = devs(map[string]any{"peer": e, "name": "a\u202eb"}) }), "control character"},
		{"device bad addr", change(func(m map[string]any) {
			m["devices"] = devs(map[string]any{"peer": e, "name": "a", "addrs": []string{"/ip4/1.2.3.4/tcp/99999"}})
		}), "bad address"},
		{"device too many addrs", change(func(m map[string]any) {
			m["devices"] = devs(map[string]any{"peer": e, "name": "a", "addrs": strings.Split(strings.Repeat("/ip4/1.2.3.4/tcp/1,", MaxAddrs+1), ",")[:MaxAddrs+1]})
		}), "9 addresses"},
		{"no key", change(func(m map[string]any) { delete(m, "rsa_key") }), "rsa_key of 0 bytes"},
		{"key not base64", change(func(m map[string]any) { m["rsa_key"] = "!!" }), "illegal base64"},
		{"key garbage", change(func(m map[string]any) { m["rsa_key"] = base64.StdEncoding.EncodeToString([]byte("garbage")) }), "rsa_key"},
		{"key not RSA", change(func(m map[string]any) { m["rsa_key"] = base64.StdEncoding.EncodeToString(ecDER) }), "not an RSA key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBundle(tt.in)
			if !errors.Is(err, ErrBadBundleData) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseBundle: %v, want %q", err, tt.want)
			}
		})
	}
	// Marshal refuses what ParseBundle would.
	bad := good
	bad.Devices = nil
	if _, err := bad.Marshal(); !errors.Is(err, ErrBadBundleData) {
		t.Fatalf("Marshal of a bundle without devices: %v", err)
	}
}
