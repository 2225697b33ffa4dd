package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrDecrypt is wrapped by every failure to open an encrypted envelope:
// bad JSON, bad base64, RSA, key/IV sizes, AES block alignment, padding.
// Messages say which step failed, for logs; callers must not let the
// difference reach the sender (§4, §12 #14: answer 202 regardless).
var ErrDecrypt = errors.New("cannot decrypt encrypted magic envelope")

// AES-256-CBC sizes (§4).
const (
	aesKeySize = 32
	aesIVSize  = aes.BlockSize
)

// Encrypt wraps a signed envelope document for one recipient (§4): a fresh
// random AES-256 key and IV encrypt the document, the recipient's public key
// encrypts {"key","iv"} with RSAES-PKCS1-v1_5, and the result is the compact
// JSON body {"aes_key":…,"encrypted_magic_envelope":…} in the key order Ruby's
// JSON.generate emits.
func Encrypt(envelopeDoc []byte, recipient *rsa.PublicKey) ([]byte, error) {
	var kiv [aesKeySize + aesIVSize]byte
	if _, err := rand.Read(kiv[:]); err != nil {
		return nil, fmt.Errorf("envelope: encrypt: %w", err)
	}
	return EncryptWith(envelopeDoc, recipient, kiv[:aesKeySize], kiv[aesKeySize:], rand.Reader)
}

// EncryptWith is Encrypt with the AES key and IV given, so the
// encrypted_magic_envelope field is deterministic (tests). rnd is passed to
// RSA encryption; since Go 1.26 the standard library ignores it and always
// uses a secure source, so the aes_key field is random regardless.
func EncryptWith(envelopeDoc []byte, recipient *rsa.PublicKey, key, iv []byte, rnd io.Reader) ([]byte, error) {
	switch {
	case recipient == nil:
		return nil, errors.New("envelope: encrypt: no recipient key")
	case len(key) != aesKeySize:
		return nil, fmt.Errorf("envelope: encrypt: AES key is %d bytes, want %d", len(key), aesKeySize)
	case len(iv) != aesIVSize:
		return nil, fmt.Errorf("envelope: encrypt: IV is %d bytes, want %d", len(iv), aesIVSize)
	case len(envelopeDoc) == 0:
		return nil, errors.New("envelope: encrypt: empty document")
	case len(envelopeDoc) > MaxEnvelopeBytes:
		return nil, fmt.Errorf("%w: encrypt: document is %d bytes (max %d)", ErrEnvelope, len(envelopeDoc), MaxEnvelopeBytes)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	// KEYJSON exactly as JSON.generate writes it; base64 needs no escaping.
	keyJSON := `{"key":"` + base64.StdEncoding.EncodeToString(key) +
		`","iv":"` + base64.StdEncoding.EncodeToString(iv) + `"}`
	// PKCS#1 v1.5 encryption is deprecated in Go but is what the protocol
	// uses (Ruby public_encrypt's default padding); there is no choice.
	encKey, err := rsa.EncryptPKCS1v15(rnd, recipient, []byte(keyJSON))
	if err != nil {
		return nil, fmt.Errorf("envelope: encrypt AES key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("envelope: encrypt: %w", err)
	}
	pad := aes.BlockSize - len(envelopeDoc)%aes.BlockSize
	ct := make([]byte, len(envelopeDoc)+pad)
	copy(ct, envelopeDoc)
	for i := len(envelopeDoc); i < len(ct); i++ {
		ct[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)

	const (
		head = `{"aes_key":"`
		mid  = `","encrypted_magic_envelope":"`
		tail = `"}`
	)
	enc := base64.StdEncoding
	out := make([]byte, 0, len(head)+enc.EncodedLen(len(encKey))+len(mid)+enc.EncodedLen(len(ct))+len(tail))
	out = append(out, head...)
	out = enc.AppendEncode(out, encKey)
	out = append(out, mid...)
	out = enc.AppendEncode(out, ct)
	return append(out, tail...), nil
}

// Decrypt opens an encrypted envelope body with the recipient's private key
// and returns the inner envelope document, to be given to Parse. Every
// failure wraps ErrDecrypt.
func Decrypt(body []byte, priv *rsa.PrivateKey) ([]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("%w: no private key", ErrDecrypt)
	}
	if len(body) > MaxEncryptedBytes {
		return nil, fmt.Errorf("%w: body is %d bytes (max %d)", ErrDecrypt, len(body), MaxEncryptedBytes)
	}
	fs, err := stringFields(body, "aes_key", "encrypted_magic_envelope")
	if err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrDecrypt, err)
	}
	encKey, err := decodeStd(fs[0])
	if err != nil {
		return nil, fmt.Errorf("%w: aes_key: %v", ErrDecrypt, err)
	}
	ct, err := decodeStd(fs[1])
	if err != nil {
		return nil, fmt.Errorf("%w: encrypted_magic_envelope: %v", ErrDecrypt, err)
	}
	// Checked before any RSA or AES work: the ciphertext of an acceptable
	// document is at most MaxEnvelopeBytes+16 bytes.
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 || len(ct) > MaxEnvelopeBytes+aes.BlockSize {
		return nil, fmt.Errorf("%w: ciphertext length %d is not a positive multiple of %d within the size limit", ErrDecrypt, len(ct), aes.BlockSize)
	}
	// Deprecated in Go but required by the protocol; see EncryptWith.
	keyJSON, err := rsa.DecryptPKCS1v15(nil, priv, encKey)
	if err != nil {
		return nil, fmt.Errorf("%w: aes_key: RSA decryption failed", ErrDecrypt)
	}
	kf, err := stringFields(keyJSON, "key", "iv")
	if err != nil {
		return nil, fmt.Errorf("%w: decrypted aes_key: %v", ErrDecrypt, err)
	}
	key, err := decodeStd(kf[0])
	if err != nil || len(key) != aesKeySize {
		return nil, fmt.Errorf("%w: AES key is not %d base64 bytes", ErrDecrypt, aesKeySize)
	}
	iv, err := decodeStd(kf[1])
	if err != nil || len(iv) != aesIVSize {
		return nil, fmt.Errorf("%w: IV is not %d base64 bytes", ErrDecrypt, aesIVSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(ct, ct)
	n, ok := unpad(ct)
	if !ok {
		return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty plaintext", ErrDecrypt)
	}
	return ct[:n:n], nil
}

// unpad checks PKCS#7 padding in constant time with respect to the padding
// bytes and returns the plaintext length.
func unpad(b []byte) (int, bool) {
	p := int(b[len(b)-1])
	good := subtle.ConstantTimeLessOrEq(1, p) & subtle.ConstantTimeLessOrEq(p, aes.BlockSize)
	last := b[len(b)-aes.BlockSize:]
	for i := range aes.BlockSize {
		// Byte i (from the end, 1-based i+1) is padding iff i < p.
		inPad := subtle.ConstantTimeLessOrEq(i+1, p)
		eq := subtle.ConstantTimeByteEq(last[aes.BlockSize-1-i], byte(p))
		good &= eq | (inPad ^ 1)
	}
	if good != 1 {
		return 0, false
	}
	return len(b) - p, true
}

// stringFields reads a JSON object and returns the string values of the
// named members, matched case-sensitively (encoding/json's struct matching
// is case-insensitive; Ruby's JSON.parse is not). Other members are ignored.
func stringFields(doc []byte, names ...string) ([]string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, errors.New("not a JSON object")
	}
	out := make([]string, len(names))
	for i, n := range names {
		raw, ok := m[n]
		if !ok {
			return nil, fmt.Errorf("missing %q", n)
		}
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("%q is not a string", n)
		}
	}
	return out, nil
}

// decodeStd decodes standard base64 leniently like Ruby's decode64 as far as
// layout goes: ASCII whitespace (line breaks) is ignored and padding may be
// missing. Other characters outside the alphabet are errors.
func decodeStd(s string) ([]byte, error) {
	if strings.ContainsAny(s, " \t\n\r\f\v") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\n', '\r', '\f', '\v':
				return -1
			}
			return r
		}, s)
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, errors.New("bad base64")
	}
	return b, nil
}
