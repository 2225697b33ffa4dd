package keylock

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
)

// RSA keys shrink to e, p and q and come back as the same DER.
func TestKeyPayloadFromPrimes(t *testing.T) {
	sizes := map[string]int{
		"rsa4096-pkcs8":       9 + 512,
		"rsa2048-pkcs1-bob":   9 + 256,
		"rsa2048-pkcs1-alice": 9 + 256,
		"rsa2048-pkcs8-bob":   9 + 256,
		"rsa1024-pkcs1-spec":  9 + 128,
	}
	for _, k := range testKeys(t) {
		t.Run(k.name, func(t *testing.T) {
			pk, err := parseKeyPEM(k.pem)
			if err != nil {
				t.Fatal(err)
			}
			p := encodeKey(pk)
			if p[0] != formRSAPrimes || len(p) != sizes[k.name] {
				t.Fatalf("form %d, %d bytes; want form 1, %d bytes (DER is %d)", p[0], len(p), sizes[k.name], len(pk.der))
			}
			back, err := decodeKey(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.pem(), k.pem) || back.fingerprint != pk.fingerprint {
				t.Fatal("decoded key differs")
			}
		})
	}
}

// A key whose d is e⁻¹ mod φ(N) (older tools) comes back byte for byte too.
func TestKeyPayloadPhiKey(t *testing.T) {
	pk, _ := parseKeyPEM(testKeys(t)[1].pem)
	rk, err := x509.ParsePKCS1PrivateKey(pk.der)
	if err != nil {
		t.Fatal(err)
	}
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(rk.Primes[0], one), new(big.Int).Sub(rk.Primes[1], one))
	phiKey := &rsa.PrivateKey{PublicKey: rk.PublicKey, D: new(big.Int).ModInverse(big.NewInt(int64(rk.E)), phi), Primes: rk.Primes}
	if phiKey.D.Cmp(rk.D) == 0 {
		t.Fatal("test key has the same d under both rules; pick another")
	}
	phiKey.Precompute()
	if err := phiKey.Validate(); err != nil {
		t.Fatal(err)
	}
	in := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(phiKey)})
	k, err := parseKeyPEM(in)
	if err != nil {
		t.Fatal(err)
	}
	p := encodeKey(k)
	if p[0] != formRSAPrimes || p[2] != dPhi {
		t.Fatalf("form %d rule %d, want form 1 with the φ rule", p[0], p[2])
	}
	back, err := decodeKey(p)
	if err != nil || !bytes.Equal(back.pem(), in) {
		t.Fatalf("round trip: %v", err)
	}
}

// Keys that do not rebuild from their primes are kept as DER.
func TestKeyPayloadDER(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var ins [][]byte
	for _, k := range []any{ed, ec} {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	for i, in := range ins {
		k, err := parseKeyPEM(in)
		if err != nil {
			t.Fatal(err)
		}
		p := encodeKey(k)
		if p[0] != formDER {
			t.Fatalf("key %d: form %d, want DER", i, p[0])
		}
		back, err := decodeKey(p)
		if err != nil || !bytes.Equal(back.pem(), in) {
			t.Fatalf("key %d: %v", i, err)
		}
	}
}

func TestKeyPayloadRefused(t *testing.T) {
	pk, _ := parseKeyPEM(testKeys(t)[1].pem)
	good := encodeKey(pk)
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"one byte", []byte{1}},
		{"unknown form", []byte{9, 1, 0}},
		{"short RSA", good[:8]},
		{"bad PEM type", mut(func(b []byte) []byte { b[1] = 7; return b })},
		{"bad d rule", mut(func(b []byte) []byte { b[2] = 7; return b })},
		{"even e", mut(func(b []byte) []byte { b[6] = 4; return b })},
		{"e of 1", mut(func(b []byte) []byte { copy(b[3:7], []byte{0, 0, 0, 1}); return b })},
		{"p length 0", mut(func(b []byte) []byte { b[7], b[8] = 0, 0; return b })},
		{"p length over the cap", mut(func(b []byte) []byte { b[7], b[8] = 2, 1; return b })},
		{"no q", good[:9+128]},
		{"p and q swapped halves", append(append(bytes.Clone(good[:9]), good[9+128:]...), good[9+128:]...)},
		{"wrong prime", mut(func(b []byte) []byte { b[20] ^= 1; return b })},
		{"DER garbage", []byte{2, 1, 0x30, 0x03, 1, 2, 3}},
		{"DER bad type", []byte{2, 9, 0x30, 0x00}},
		{"too big", append([]byte{2, 1}, make([]byte, maxKeyDER+1)...)},
	} {
		if _, err := decodeKey(tc.b); !errors.Is(err, ErrBadKey) {
			t.Fatalf("%s: %v, want ErrBadKey", tc.name, err)
		}
	}
}
