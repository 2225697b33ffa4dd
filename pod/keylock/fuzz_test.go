package keylock

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// sentinels are the errors every refusal wraps.
var sentinels = []error{ErrNotSealed, ErrUnsupported, ErrCorrupt, ErrBadParams, ErrWrongPassphrase, ErrBadPassphrase, ErrBadKey, ErrBadText, ErrBadQR}

// fuzzKey is the cheapest real key: the 1024-bit one from the spec.
func fuzzKey(f *testing.F) []byte { return testKeys(f)[4].pem }

// FuzzOpen: Open never panics; it refuses with one of the sentinels or
// returns a key that parses and matches the blob's fingerprint. With fix
// set the checksum is recomputed, so mutations reach the parameters, the
// passphrase check and the AEAD (under tight caps: the fuzzer cannot make
// a run expensive).
func FuzzOpen(f *testing.F) {
	sealed := sealT(f, fuzzKey(f), "pass")
	f.Add(sealed, false, []byte("pass"))
	f.Add(sealed, true, []byte("pass"))
	f.Add(Armor(sealed), false, []byte("pass"))
	f.Add(sealed[:50], true, []byte("pass"))
	f.Add([]byte("SDKL"), true, []byte(""))
	f.Fuzz(func(t *testing.T, b []byte, fix bool, pass []byte) {
		if fix && len(b) > crcLen && bytes.HasPrefix(b, []byte(magic)) {
			b = bytes.Clone(b)
			fixCRC(b)
		}
		out, err := open(b, pass, tight)
		if err != nil {
			if !isAny(err, sentinels...) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		k, err := parseKeyPEM(out)
		if err != nil {
			t.Fatalf("Open returned a key that does not parse: %v", err)
		}
		if info, err := Inspect(b); err == nil && info.Fingerprint != k.fingerprintHex() {
			t.Fatal("opened key does not match the header's fingerprint")
		}
	})
}

// FuzzRestore: Restore never panics and stays bounded; it returns a
// *TextError (at most maxProblems+1 problems, each with a message) or
// another sentinel, or a backup whose data reads back as what its kind says.
func FuzzRestore(f *testing.F) {
	k := fuzzKey(f)
	plain, err := NewSheet(k, "fuzz", day)
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := NewSheet(sealT(f, k, "p"), "", day)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain.Text())
	f.Add(strings.Join(sealed.Lines(), "\n"))
	f.Add(strings.ToLower(strings.Join(plain.Lines()[2:], "\r\n")))
	f.Add("01 AAAAA\nEND 5 AAAAAAAAAA AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		b, err := Restore(text)
		if err != nil {
			var te *TextError
			if errors.As(err, &te) {
				if len(te.Problems) == 0 || len(te.Problems) > maxProblems+1 {
					t.Fatalf("%d problems", len(te.Problems))
				}
				for _, p := range te.Problems {
					if p.Msg == "" {
						t.Fatal("problem without a message")
					}
				}
			} else if !isAny(err, sentinels...) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		checkBackup(t, b)
	})
}

// FuzzRestoreQR: as FuzzRestore, for scanned codes (one a line).
func FuzzRestoreQR(f *testing.F) {
	k := fuzzKey(f)
	plain, err := NewSheet(k, "fuzz", day)
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := NewSheet(sealT(f, k, "p"), "", day)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(strings.Join(plain.QRPayloads(), "\n"))
	f.Add(strings.Join(sealed.QRPayloads(), "\n"))
	f.Add("SDK1:1/2:0123456789:ABC\nSDK1:2/2:0123456789:DEF")
	f.Fuzz(func(t *testing.T, codes string) {
		b, err := RestoreQR(strings.Split(codes, "\n"))
		if err != nil {
			if !isAny(err, sentinels...) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		checkBackup(t, b)
	})
}

func checkBackup(t *testing.T, b Backup) {
	t.Helper()
	switch b.Kind {
	case KindKey:
		fp, err := Fingerprint(b.Data)
		if err != nil || fp != b.Fingerprint {
			t.Fatalf("restored key: %v (fingerprint %s, backup says %s)", err, fp, b.Fingerprint)
		}
	case KindSealed:
		info, err := Inspect(b.Data)
		if err != nil || info.Fingerprint != b.Fingerprint {
			t.Fatalf("restored sealed key: %v", err)
		}
	default:
		t.Fatalf("kind %q", b.Kind)
	}
}

// FuzzKeyPayload: decoding a key payload never panics, and what decodes
// encodes and decodes again to the same DER.
func FuzzKeyPayload(f *testing.F) {
	k, err := parseKeyPEM(fuzzKey(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodeKey(k))
	f.Add(append([]byte{formDER, pemPKCS8}, k.der...))
	f.Add([]byte{formRSAPrimes, pemPKCS1, dLambda, 0, 1, 0, 1, 0, 1, 5, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 9+2*64 && b[0] == formRSAPrimes || len(b) > 700 {
			// crypto/rsa's consistency checks of big bogus keys cost up to
			// ~0.15 s; the fuzzer explores the structure with keys up to
			// 1024 bits (the unit tests cover big keys).
			return
		}
		k, err := decodeKey(b)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		again, err := decodeKey(encodeKey(k))
		if err != nil || !bytes.Equal(again.der, k.der) || again.pemType != k.pemType {
			t.Fatalf("re-encoded key differs: %v", err)
		}
	})
}
