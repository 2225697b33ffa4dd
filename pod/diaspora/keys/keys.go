// Package keys owns the RSA key handling of the diaspora* protocol: PEM
// parsing and encoding in the forms diaspora uses, and the RSASSA-PKCS1-v1_5
// SHA-256 signatures every signature in the protocol is made of.
//
// It is pure: no files, no network. It imports only the standard library.
package keys

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// Key sizes. diaspora* generates 4096-bit user keys; the reference's specs
// and old pods use 1024 and 2048, which must still verify.
const (
	MinBits     = 1024
	MaxBits     = 8192
	DefaultBits = 4096
)

// ErrBadKey is wrapped by every key parsing error.
var ErrBadKey = errors.New("bad RSA key")

// ErrBadSignature means a signature did not verify.
var ErrBadSignature = errors.New("signature verification failed")

// Generate makes a new private key of the given size.
func Generate(bits int) (*rsa.PrivateKey, error) {
	if bits < 2048 || bits > MaxBits || bits%8 != 0 {
		return nil, fmt.Errorf("%w: refusing to generate a %d-bit key (2048…%d, a multiple of 8)", ErrBadKey, bits, MaxBits)
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("generate %d-bit RSA key: %w", bits, err)
	}
	return k, nil
}

// ParsePrivate reads a private key: PKCS#1 ("RSA PRIVATE KEY", as diaspora
// stores them) or PKCS#8 ("PRIVATE KEY").
func ParsePrivate(pemBytes []byte) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadKey)
	}
	var k *rsa.PrivateKey
	switch b.Type {
	case "RSA PRIVATE KEY":
		pk, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		k = pk
	case "PRIVATE KEY":
		pk, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		rk, ok := pk.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: PKCS#8 key is %T, not RSA", ErrBadKey, pk)
		}
		k = rk
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a private key", ErrBadKey, b.Type)
	}
	if err := checkSize(&k.PublicKey); err != nil {
		return nil, err
	}
	return k, nil
}

// ParsePublic reads a public key: SubjectPublicKeyInfo ("PUBLIC KEY") or
// PKCS#1 ("RSA PUBLIC KEY"); both appear in diaspora* profiles.
func ParsePublic(pemBytes []byte) (*rsa.PublicKey, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadKey)
	}
	var k *rsa.PublicKey
	switch b.Type {
	case "PUBLIC KEY":
		pk, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		rk, ok := pk.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: public key is %T, not RSA", ErrBadKey, pk)
		}
		k = rk
	case "RSA PUBLIC KEY":
		pk, err := x509.ParsePKCS1PublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		k = pk
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a public key", ErrBadKey, b.Type)
	}
	if err := checkSize(k); err != nil {
		return nil, err
	}
	return k, nil
}

func checkSize(k *rsa.PublicKey) error {
	if n := k.N.BitLen(); n < MinBits || n > MaxBits {
		return fmt.Errorf("%w: %d-bit modulus (accepted: %d…%d)", ErrBadKey, n, MinBits, MaxBits)
	}
	return nil
}

// MarshalPrivate encodes a private key as PKCS#1 PEM, as diaspora stores it.
func MarshalPrivate(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// MarshalPublic encodes a public key as SubjectPublicKeyInfo PEM, the form
// diaspora* publishes in hCards and profiles.
func MarshalPublic(k *rsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		// Only unsupported key types fail; *rsa.PublicKey never does.
		panic("marshal RSA public key: " + err.Error())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Sign returns the RSASSA-PKCS1-v1_5 SHA-256 signature of msg. PKCS#1 v1.5
// signatures are deterministic: the same key and message give the same bytes.
func Sign(k *rsa.PrivateKey, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:])
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

// Verify checks an RSASSA-PKCS1-v1_5 SHA-256 signature; the error wraps
// ErrBadSignature.
//
// Receiving is dominated by this check (every envelope, every relayable),
// and crypto/rsa rebuilds its constant-time modulus on each public-key
// operation, which for 4096-bit keys costs about 0.8 ms. Nothing in a
// verification is secret (the key, the signature and the message are all
// public), so keys of the usual shape take a variable-time path instead:
// s^e mod n with math/big, then a comparison with the whole expected
// encoding (RFC 8017 §8.2.2: EMSA-PKCS1-v1_5 built and compared, never
// parsed), about 3× faster. Other keys go to crypto/rsa. A differential
// test and fuzz target hold the two paths to the same answers.
func Verify(k *rsa.PublicKey, msg, sig []byte) error {
	h := sha256.Sum256(msg)
	if fastVerifiable(k) {
		if !verifyPublic(k, h[:], sig) {
			return ErrBadSignature
		}
		return nil
	}
	if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig); err != nil {
		return ErrBadSignature
	}
	return nil
}

// fastVerifiable: the key shapes verifyPublic handles exactly as crypto/rsa
// does — 2048 to MaxBits bits, an odd modulus, e = 65537 (what every
// diaspora* key uses).
func fastVerifiable(k *rsa.PublicKey) bool {
	return k != nil && k.N != nil && k.E == 65537 && k.N.Sign() > 0 && k.N.Bit(0) == 1 &&
		k.N.BitLen() >= 2048 && k.N.BitLen() <= MaxBits
}

// sha256DigestInfo is the DER prefix of a SHA-256 DigestInfo (RFC 8017
// §9.2, note 1).
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

var bigE = big.NewInt(65537)

// verifyPublic is RSASSA-PKCS1-v1_5 verification with SHA-256 (RFC 8017
// §8.2.2) for a key fastVerifiable accepts.
func verifyPublic(k *rsa.PublicKey, hashed, sig []byte) bool {
	size := (k.N.BitLen() + 7) / 8
	if len(sig) != size {
		return false
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(k.N) >= 0 {
		return false
	}
	m := new(big.Int).Exp(s, bigE, k.N)
	em := m.FillBytes(make([]byte, size))
	tLen := len(sha256DigestInfo) + len(hashed)
	if size < tLen+11 {
		return false
	}
	want := make([]byte, size)
	want[1] = 0x01
	for i := 2; i < size-tLen-1; i++ {
		want[i] = 0xff
	}
	copy(want[size-tLen:], sha256DigestInfo)
	copy(want[size-len(hashed):], hashed)
	return bytes.Equal(em, want)
}
