package keylock

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
)

// The key payload is what a sealed blob encrypts and what a plain paper
// backup prints: the private key in as few bytes as will give back the same
// DER. A two-prime RSA key is written as e, p and q (a 4096-bit key in 521
// bytes instead of ~2,350 of DER, which is what makes a paper backup short
// enough to type and its QR codes few); any other key as its DER.
//
//	form 1 (RSA from primes): 0x01, pemType, dRule, e (uint32), len(p) (uint16), p, q
//	form 2 (DER):             0x02, pemType, DER
//
// pemType says which PEM block Open gives back; dRule says how d was derived
// (e⁻¹ mod λ(N), as Go and OpenSSL 3 do, or mod φ(N), as older tools did), so
// the rebuilt key marshals to the original bytes. encodeKey only picks form 1
// after rebuilding the key and comparing its DER with the original.
const (
	formRSAPrimes = 1
	formDER       = 2

	pemPKCS8 = 1 // "PRIVATE KEY"
	pemPKCS1 = 2 // "RSA PRIVATE KEY"

	dLambda = 1
	dPhi    = 2
)

// Caps on keys. An 8192-bit RSA key is ~4.8 KiB of DER; nothing Seedpod
// makes or imports comes near these.
const (
	// MaxKeyPEM is the largest key PEM Seal and NewSheet accept.
	MaxKeyPEM = 16 << 10
	maxKeyDER = 8 << 10
	// maxPrime bounds each prime of form 1: 512 bytes, an 8192-bit key.
	maxPrime = 512
	// maxPayload bounds a key payload (form 2 with the largest DER).
	maxPayload = 2 + maxKeyDER
)

// key is a parsed private key as this package keeps it.
type key struct {
	pemType     byte
	der         []byte
	fingerprint [sha256.Size]byte
}

// parseKeyPEM reads one private-key PEM block: PKCS#8 ("PRIVATE KEY") or
// PKCS#1 ("RSA PRIVATE KEY"), nothing around it but whitespace, no headers
// (legacy encrypted PEM is refused).
func parseKeyPEM(b []byte) (*key, error) {
	if len(b) > MaxKeyPEM {
		return nil, fmt.Errorf("%w: %d bytes of PEM, at most %d", ErrBadKey, len(b), MaxKeyPEM)
	}
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the %q block", ErrBadKey, block.Type)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: the %q block has PEM headers (legacy PEM encryption is not supported)", ErrBadKey, block.Type)
	}
	var t byte
	switch block.Type {
	case "PRIVATE KEY":
		t = pemPKCS8
	case "RSA PRIVATE KEY":
		t = pemPKCS1
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a private key (want PRIVATE KEY or RSA PRIVATE KEY)", ErrBadKey, block.Type)
	}
	return parseKeyDER(t, block.Bytes)
}

func parseKeyDER(t byte, der []byte) (*key, error) {
	if len(der) > maxKeyDER {
		return nil, fmt.Errorf("%w: %d bytes of DER, at most %d", ErrBadKey, len(der), maxKeyDER)
	}
	var (
		priv any
		err  error
	)
	switch t {
	case pemPKCS8:
		priv, err = x509.ParsePKCS8PrivateKey(der)
	case pemPKCS1:
		priv, err = x509.ParsePKCS1PrivateKey(der)
	default:
		return nil, fmt.Errorf("%w: unknown PEM type code %d", ErrBadKey, t)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadKey, pemName(t), err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T has no public key", ErrBadKey, priv)
	}
	spki, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("%w: encode the public key: %w", ErrBadKey, err)
	}
	return &key{pemType: t, der: der, fingerprint: sha256.Sum256(spki)}, nil
}

func pemName(t byte) string {
	if t == pemPKCS1 {
		return "RSA PRIVATE KEY"
	}
	return "PRIVATE KEY"
}

func (k *key) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemName(k.pemType), Bytes: k.der})
}

func (k *key) fingerprintHex() string { return hex.EncodeToString(k.fingerprint[:]) }

// Fingerprint is the SHA-256 of the key's public half (SubjectPublicKeyInfo
// DER) in lowercase hex: the fingerprint the pod shows for its identity key.
func Fingerprint(keyPEM []byte) (string, error) {
	k, err := parseKeyPEM(keyPEM)
	if err != nil {
		return "", err
	}
	return k.fingerprintHex(), nil
}

// encodeKey writes k as a key payload (see the top of this file).
func encodeKey(k *key) []byte {
	if b := encodeRSAPrimes(k); b != nil {
		return b
	}
	out := make([]byte, 0, 2+len(k.der))
	out = append(out, formDER, k.pemType)
	return append(out, k.der...)
}

// encodeRSAPrimes returns form 1 for k, or nil when the rebuilt key would
// not marshal to the same DER (more than two primes, an unusual d, a big e,
// DER written by a tool that orders or pads differently).
func encodeRSAPrimes(k *key) []byte {
	var priv any
	var err error
	if k.pemType == pemPKCS1 {
		priv, err = x509.ParsePKCS1PrivateKey(k.der)
	} else {
		priv, err = x509.ParsePKCS8PrivateKey(k.der)
	}
	rk, ok := priv.(*rsa.PrivateKey)
	if err != nil || !ok || len(rk.Primes) != 2 || rk.E < 3 || int64(rk.E) > 1<<32-1 {
		return nil
	}
	p, q := rk.Primes[0].Bytes(), rk.Primes[1].Bytes()
	if len(p) > maxPrime || len(q) > maxPrime {
		return nil
	}
	for _, rule := range []byte{dLambda, dPhi} {
		b := make([]byte, 0, 9+len(p)+len(q))
		b = append(b, formRSAPrimes, k.pemType, rule)
		b = binary.BigEndian.AppendUint32(b, uint32(rk.E))
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
		b = append(b, q...)
		if der, err := rebuildRSA(b); err == nil && bytes.Equal(der, k.der) {
			return b
		}
	}
	return nil
}

// decodeKey reads a key payload back into a key, checking it parses.
func decodeKey(b []byte) (*key, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: key payload of %d bytes", ErrBadKey, len(b))
	}
	if len(b) > maxPayload {
		return nil, fmt.Errorf("%w: key payload of %d bytes, at most %d", ErrBadKey, len(b), maxPayload)
	}
	switch b[0] {
	case formRSAPrimes:
		der, err := rebuildRSA(b)
		if err != nil {
			return nil, err
		}
		return parseKeyDER(b[1], der)
	case formDER:
		return parseKeyDER(b[1], b[2:])
	}
	return nil, fmt.Errorf("%w: unknown key payload form %d", ErrBadKey, b[0])
}

// rebuildRSA turns form 1 into the key's DER.
func rebuildRSA(b []byte) ([]byte, error) {
	if len(b) < 9 {
		return nil, fmt.Errorf("%w: RSA key payload of %d bytes", ErrBadKey, len(b))
	}
	t, rule := b[1], b[2]
	e := binary.BigEndian.Uint32(b[3:7])
	pl := int(binary.BigEndian.Uint16(b[7:9]))
	rest := b[9:]
	switch {
	case t != pemPKCS8 && t != pemPKCS1:
		return nil, fmt.Errorf("%w: unknown PEM type code %d", ErrBadKey, t)
	case rule != dLambda && rule != dPhi:
		return nil, fmt.Errorf("%w: unknown RSA d rule %d", ErrBadKey, rule)
	case e < 3 || e%2 == 0 || int64(e) > 1<<31-1:
		return nil, fmt.Errorf("%w: RSA public exponent %d", ErrBadKey, e)
	case pl == 0 || pl > maxPrime || len(rest) <= pl || len(rest)-pl > maxPrime:
		return nil, fmt.Errorf("%w: RSA prime lengths %d and %d (1 to %d bytes each)", ErrBadKey, pl, len(rest)-pl, maxPrime)
	}
	p := new(big.Int).SetBytes(rest[:pl])
	q := new(big.Int).SetBytes(rest[pl:])
	one := big.NewInt(1)
	if p.Cmp(one) <= 0 || q.Cmp(one) <= 0 || p.Cmp(q) == 0 {
		return nil, fmt.Errorf("%w: RSA primes out of range", ErrBadKey)
	}
	pm1 := new(big.Int).Sub(p, one)
	qm1 := new(big.Int).Sub(q, one)
	mod := new(big.Int).Mul(pm1, qm1) // φ(N)
	if rule == dLambda {
		g := new(big.Int).GCD(nil, nil, pm1, qm1)
		mod.Div(mod, g) // λ(N) = lcm(p-1, q-1)
	}
	d := new(big.Int).ModInverse(big.NewInt(int64(e)), mod)
	if d == nil {
		return nil, fmt.Errorf("%w: RSA exponent %d has no inverse for these primes", ErrBadKey, e)
	}
	rk := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: int(e)},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	// Precompute checks the key as Validate does; on failure it leaves the
	// CRT values unset. Asking Validate why would run the same checks again
	// (~150 ms for two 4096-bit non-primes), so only a key that passed is
	// validated (for free: the values are consistent).
	rk.Precompute()
	if rk.Precomputed.Dp == nil {
		return nil, fmt.Errorf("%w: these primes and exponent do not make an RSA key", ErrBadKey)
	}
	if err := rk.Validate(); err != nil {
		return nil, fmt.Errorf("%w: rebuilt RSA key: %w", ErrBadKey, err)
	}
	if t == pemPKCS1 {
		return x509.MarshalPKCS1PrivateKey(rk), nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(rk)
	if err != nil {
		return nil, fmt.Errorf("%w: encode the rebuilt RSA key: %w", ErrBadKey, err)
	}
	return der, nil
}
