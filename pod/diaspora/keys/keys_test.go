package keys

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"seedpod/pod/internal/vectors"
)

func readVector(t *testing.T, rel string) []byte { return vectors.Read(t, rel) }

func TestVectorKeysParseAndMatch(t *testing.T) {
	for _, name := range []string{"alice_integration_spec_rsa1024", "bob_generated_rsa2048", "alice_new_generated_rsa2048"} {
		t.Run(name, func(t *testing.T) {
			priv, err := ParsePrivate(readVector(t, "keys/"+name+".private.pem"))
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ParsePublic(readVector(t, "keys/"+name+".public.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if !priv.PublicKey.Equal(pub) {
				t.Fatal("public key does not match the private key")
			}
			again, err := ParsePublic(MarshalPublic(pub))
			if err != nil || !again.Equal(pub) {
				t.Fatalf("MarshalPublic round trip: %v", err)
			}
			if back, err := ParsePrivate(MarshalPrivate(priv)); err != nil || !back.Equal(priv) {
				t.Fatalf("MarshalPrivate round trip: %v", err)
			}
			sig, err := Sign(priv, []byte("hello"))
			if err != nil {
				t.Fatal(err)
			}
			sig2, _ := Sign(priv, []byte("hello"))
			if !bytes.Equal(sig, sig2) {
				t.Error("PKCS#1 v1.5 signatures must be deterministic")
			}
			if err := Verify(pub, []byte("hello"), sig); err != nil {
				t.Fatal(err)
			}
			if err := Verify(pub, []byte("hellO"), sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("tampered message: %v", err)
			}
		})
	}
	if _, err := ParsePublic(readVector(t, "keys/docs_hcard_example_alice_rsa4096.public.pem")); err != nil {
		t.Fatalf("4096-bit docs key: %v", err)
	}
}

func TestParseRefusals(t *testing.T) {
	priv := readVector(t, "keys/bob_generated_rsa2048.private.pem")
	pub := readVector(t, "keys/bob_generated_rsa2048.public.pem")
	for _, c := range []struct {
		name string
		fn   func([]byte) error
		in   []byte
	}{
		{"empty public", func(b []byte) error { _, err := ParsePublic(b); return err }, nil},
		{"garbage public", func(b []byte) error { _, err := ParsePublic(b); return err }, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")},
		{"private given as public", func(b []byte) error { _, err := ParsePublic(b); return err }, priv},
		{"public given as private", func(b []byte) error { _, err := ParsePrivate(b); return err }, pub},
		{"certificate", func(b []byte) error { _, err := ParsePublic(b); return err }, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
	} {
		if err := c.fn(c.in); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: err = %v, want ErrBadKey", c.name, err)
		}
	}
	if _, err := Generate(512); !errors.Is(err, ErrBadKey) {
		t.Errorf("Generate(512): %v", err)
	}
}

func FuzzParsePublic(f *testing.F) {
	// Invariant: never panics; an accepted key re-marshals to a key that
	// parses to the same value.
	for _, n := range []string{"bob_generated_rsa2048.public.pem", "alice_integration_spec_rsa1024.public.pem"} {
		f.Add(vectors.Read(f, filepath.Join("keys", n)))
	}
	f.Add([]byte("-----BEGIN RSA PUBLIC KEY-----\nMAA=\n-----END RSA PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePublic(b)
		if err != nil {
			return
		}
		again, err := ParsePublic(MarshalPublic(k))
		if err != nil || !again.Equal(k) {
			t.Fatalf("accepted key does not round-trip: %v", err)
		}
	})
}
