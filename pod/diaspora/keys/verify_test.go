package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"sync"
	"testing"
)

var (
	verifyKeysOnce sync.Once
	verifyKeys     []*rsa.PrivateKey
)

// testVerifyKeys are one 2048- and one 3072-bit key (4096 is covered by the
// vectors' verification tests and the benchmark).
func testVerifyKeys(t testing.TB) []*rsa.PrivateKey {
	verifyKeysOnce.Do(func() {
		for _, bits := range []int{2048, 3072} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				t.Fatal(err)
			}
			verifyKeys = append(verifyKeys, k)
		}
	})
	return verifyKeys
}

// stdVerify is crypto/rsa's answer, the reference for the fast path.
func stdVerify(k *rsa.PublicKey, msg, sig []byte) bool {
	h := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil
}

// The fast path and crypto/rsa agree on valid signatures and on every kind
// of broken one.
func TestVerifyMatchesCryptoRSA(t *testing.T) {
	for _, k := range testVerifyKeys(t) {
		pub := &k.PublicKey
		if !fastVerifiable(pub) {
			t.Fatalf("%d-bit key with e=%d does not take the fast path", pub.N.BitLen(), pub.E)
		}
		msg := []byte("alice@pod-a.org;e21589b0b41101333b870f77ba60fa73")
		sig, err := Sign(k, msg)
		if err != nil {
			t.Fatal(err)
		}
		size := len(sig)
		flip := func(i int, bit byte) []byte {
			b := append([]byte(nil), sig...)
			b[i] ^= bit
			return b
		}
		nBytes := pub.N.FillBytes(make([]byte, size))
		nPlus := new(big.Int).Add(pub.N, big.NewInt(1)).FillBytes(make([]byte, size))
		h := sha256.Sum256(msg)
		sha1Sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA512, sha512Of(msg))
		cases := []struct {
			name string
			msg  []byte
			sig  []byte
			want bool
		}{
			{"valid", msg, sig, true},
			{"other message", append(msg, '!'), sig, false},
			{"first byte flipped", msg, flip(0, 0x01), false},
			{"last byte flipped", msg, flip(size-1, 0x80), false},
			{"middle bit", msg, flip(size/2, 0x10), false},
			{"one byte short", msg, sig[1:], false},
			{"one byte long", msg, append([]byte{0}, sig...), false},
			{"empty", msg, nil, false},
			{"zero", msg, make([]byte, size), false},
			{"one", msg, append(make([]byte, size-1), 1), false},
			{"equal to n", msg, nBytes, false},
			{"n plus one", msg, nPlus, false},
			{"all ones", msg, bytesOf(size, 0xff), false},
			{"another hash", msg, sha1Sig, false},
			{"hash as message", h[:], sig, false},
		}
		for _, c := range cases {
			std := stdVerify(pub, c.msg, c.sig)
			got := Verify(pub, c.msg, c.sig) == nil
			if std != c.want || got != c.want {
				t.Errorf("%d bits, %s: fast %v, crypto/rsa %v, want %v", pub.N.BitLen(), c.name, got, std, c.want)
			}
		}
	}
}

func sha512Of(b []byte) []byte {
	h := crypto.SHA512.New()
	h.Write(b)
	return h.Sum(nil)
}

func bytesOf(n int, v byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v
	}
	return b
}

// FuzzVerify: for any message and signature bytes, the fast path gives
// crypto/rsa's answer (seeds include a valid signature, so mutations near
// it are explored).
func FuzzVerify(f *testing.F) {
	// One 2048-bit key of its own: every fuzz worker process makes it
	// again, so it must be quick.
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	msg := []byte("seed message")
	sig, err := Sign(k, msg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg, sig)
	f.Add([]byte{}, []byte{})
	f.Add(msg, bytesOf(len(sig), 0xff))
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		pub := &k.PublicKey
		if got, std := Verify(pub, msg, sig) == nil, stdVerify(pub, msg, sig); got != std {
			t.Fatalf("fast %v, crypto/rsa %v for msg %x sig %x", got, std, msg, sig)
		}
	})
}

// BenchmarkVerify4096 compares the fast path with crypto/rsa in the same
// run (2026-11: fast ≈ 1/3 of crypto/rsa's time for 4096-bit keys).
func BenchmarkVerify4096(b *testing.B) {
	k, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("a status message's signature base string")
	sig, err := Sign(k, msg)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if Verify(&k.PublicKey, msg, sig) != nil {
				b.Fatal("did not verify")
			}
		}
	})
	b.Run("crypto-rsa", func(b *testing.B) {
		for b.Loop() {
			if !stdVerify(&k.PublicKey, msg, sig) {
				b.Fatal("did not verify")
			}
		}
	})
}
