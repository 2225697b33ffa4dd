// Package keys owns the RSA key handling of the diaspora* protocol: PEM
// parsing and encoding in the forms diaspora uses, and the RSASSA-PKCS1-v1_5
// SHA-256 signatures every signature in the protocol is made of.
//
// It is pure: no files, no network. It imports only the standard library.
package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
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
func Verify(k *rsa.PublicKey, msg, sig []byte) error {
	h := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig); err != nil {
		return ErrBadSignature
	}
	return nil
}
