// Package keylock keeps the identity key at rest: it locks a private key
// with a passphrase (argon2id, XChaCha20-Poly1305) into a small versioned
// blob, opens it again, and writes and reads the paper backup of a key or of
// a sealed blob (numbered text lines with a check code each, split QR codes,
// a printable page).
//
// It owns the sealed-key format, the paper formats and their parsers. It is
// pure: no database, no network, no files, no clock (times are passed in), no
// package-level state; it must not import the pod or any of its packages.
// Where the key is stored and when it is unlocked is the pod's business.
// Every function is safe for concurrent use.
//
// The sealed blob, version 1 (all integers big-endian):
//
//	off  len
//	  0    4  magic "SDKL"
//	  4    1  version (1)
//	  5    1  KDF (1 = argon2id, v0x13)
//	  6    1  AEAD (1 = XChaCha20-Poly1305)
//	  7    1  argon2 threads (lanes)
//	  8    4  argon2 time (passes)
//	 12    4  argon2 memory in KiB
//	 16   16  salt (random)
//	 32   24  nonce (random)
//	 56   32  fingerprint: SHA-256 of the public key (SPKI DER)
//	 88   16  passphrase check (from the derived secret, see derive)
//	104    n  ciphertext of the key payload (see keyform.go), 16-byte tag last
//	 -4    4  CRC-32C of everything before it
//
// Bytes 0–87 are the AEAD's associated data, so nothing in them can change
// without Open noticing. The passphrase check is left out of it, so that an
// altered check is told from a wrong passphrase (the AEAD still opens). The CRC is no security measure: it tells a damaged
// blob (a flipped bit, a cut-off copy) from a wrong passphrase without
// running argon2, and for the same reason the parameters are checked against
// caps before anything is derived.
package keylock

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/text/unicode/norm"
)

// Errors. Every error this package returns wraps one of them.
var (
	// ErrNotSealed: the bytes are not a sealed key (no magic, no armor).
	ErrNotSealed = errors.New("keylock: not a sealed key")
	// ErrUnsupported: a sealed key of a version, KDF or cipher this build does not know.
	ErrUnsupported = errors.New("keylock: sealed key format not supported")
	// ErrCorrupt: the sealed key is damaged (checksum, length) or was altered
	// after sealing (authentication failed with the right passphrase).
	ErrCorrupt = errors.New("keylock: sealed key is damaged or was altered")
	// ErrBadParams: key-derivation parameters outside the caps (Params.Validate).
	ErrBadParams = errors.New("keylock: key-derivation parameters out of bounds")
	// ErrWrongPassphrase: the passphrase does not open this sealed key.
	ErrWrongPassphrase = errors.New("keylock: wrong passphrase")
	// ErrBadPassphrase: the passphrase is empty or longer than MaxPassphrase.
	ErrBadPassphrase = errors.New("keylock: passphrase not acceptable")
	// ErrBadKey: the input is not a private key this package can keep.
	ErrBadKey = errors.New("keylock: not a usable private key")
)

// Params are the argon2id parameters of a sealed key; they are stored in
// the blob, so a blob opens with the parameters it was sealed with.
type Params struct {
	Time      uint32 // passes over the memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes (argon2's parallelism)
}

// DefaultParams is what Seal should be given: argon2id over 256 MiB, two
// passes, four lanes.
//
// Measured on the 2-core build machine (Xeon 2.5 GHz, shared): argon2 alone
// ~0.65 s when quiet; Seal and Open of a 4096-bit key 0.84–1.3 s each with
// the machine loaded (load average 4), 268 MB allocated a call
// (BenchmarkSeal, BenchmarkOpen). A wrong guess costs the same. RFC 9106 §4 prefers as much memory as can
// be afforded and then more passes; OWASP's floor is 19 MiB × 2 passes. 256
// MiB is the most we want a desktop app to take for a moment, and the time is
// paid once per unlock. Four lanes: a laptop with more cores opens faster, an
// attacker gains nothing (lanes do not reduce the memory × time product).
func DefaultParams() Params {
	return Params{Time: 2, MemoryKiB: 256 << 10, Threads: 4}
}

// Caps on the parameters of any blob Open will run. A hostile blob cannot
// make Open take more than MaxMemoryKiB of memory or more than twice the
// default's work (memory × passes): ~1.3 s on the quiet build machine,
// ~2.6 s loaded. Seal keeps to the same caps, so whatever it makes opens.
const (
	MaxMemoryKiB = 256 << 10
	MaxTime      = 16
	MaxThreads   = 16
	// maxWork is memory × passes in KiB: twice DefaultParams.
	maxWork = 2 * 2 * (256 << 10)
)

// MaxPassphrase is the longest passphrase in bytes (after NFC normalisation).
const MaxPassphrase = 1024

// limits are the caps a blob's parameters are checked against; tests and
// fuzz targets use smaller ones.
type limits struct {
	memoryKiB, time, threads, work uint64
}

func defaultLimits() limits {
	return limits{memoryKiB: MaxMemoryKiB, time: MaxTime, threads: MaxThreads, work: maxWork}
}

// Validate reports whether p is within the caps Open enforces (and that
// argon2 needs: at least one pass, one lane, 8 KiB per lane).
func (p Params) Validate() error { return p.check(defaultLimits()) }

func (p Params) check(l limits) error {
	switch {
	case p.Time < 1 || uint64(p.Time) > l.time:
		return fmt.Errorf("%w: time %d (1 to %d passes)", ErrBadParams, p.Time, l.time)
	case p.Threads < 1 || uint64(p.Threads) > l.threads:
		return fmt.Errorf("%w: threads %d (1 to %d)", ErrBadParams, p.Threads, l.threads)
	case uint64(p.MemoryKiB) < 8*uint64(p.Threads) || uint64(p.MemoryKiB) > l.memoryKiB:
		return fmt.Errorf("%w: memory %d KiB (%d to %d KiB for %d threads)", ErrBadParams, p.MemoryKiB, 8*uint64(p.Threads), l.memoryKiB, p.Threads)
	case uint64(p.Time)*uint64(p.MemoryKiB) > l.work:
		return fmt.Errorf("%w: time %d × memory %d KiB exceeds %d KiB-passes", ErrBadParams, p.Time, p.MemoryKiB, l.work)
	}
	return nil
}

// Blob layout, version 1 (see the package comment).
const (
	magic       = "SDKL"
	version1    = 1
	kdfArgon2id = 1
	aeadXChaCha = 1

	offThreads = 7
	offTime    = 8
	offMemory  = 12
	offSalt    = 16
	offNonce   = 32
	offFP      = 56
	offCheck   = 88
	headerLen  = 104
	saltLen    = offNonce - offSalt
	checkLen   = headerLen - offCheck
	crcLen     = 4

	minSealed = headerLen + 2 + chacha20poly1305.Overhead + crcLen
	// MaxSealed is the largest sealed blob (binary) Open reads.
	MaxSealed = headerLen + maxPayload + chacha20poly1305.Overhead + crcLen
	// maxArmored bounds the PEM-armored form: base64 with 64-column lines
	// is ~1.37× the binary, plus the two boundary lines.
	maxArmored = MaxSealed*3/2 + 128

	armorType = "SEEDPOD SEALED KEY"
)

// Info is what a sealed key tells without its passphrase.
type Info struct {
	Version int
	Params  Params
	// Fingerprint is the SHA-256 of the sealed key's public half, in hex, as
	// Fingerprint computes it. Read without the passphrase it is only a label:
	// Open checks it.
	Fingerprint string
}

// Seal locks keyPEM (one PEM block: PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA
// PRIVATE KEY") with passphrase, deriving the key with p (use DefaultParams;
// smaller values are for tests). The passphrase is NFC-normalised, so it
// opens however the keyboard composed its accents. The result is binary;
// Armor makes it text.
func Seal(keyPEM, passphrase []byte, p Params) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	pass, err := normPassphrase(passphrase)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	if len(pass) == 0 {
		return nil, fmt.Errorf("seal key: %w: empty", ErrBadPassphrase)
	}
	k, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return seal(encodeKey(k), k.fingerprint[:], pass, p)
}

func seal(payload, fingerprint, pass []byte, p Params) ([]byte, error) {
	out := make([]byte, headerLen, headerLen+len(payload)+chacha20poly1305.Overhead+crcLen)
	copy(out, magic)
	out[4], out[5], out[6], out[offThreads] = version1, kdfArgon2id, aeadXChaCha, p.Threads
	binary.BigEndian.PutUint32(out[offTime:], p.Time)
	binary.BigEndian.PutUint32(out[offMemory:], p.MemoryKiB)
	if _, err := rand.Read(out[offSalt:offFP]); err != nil { // salt and nonce
		return nil, fmt.Errorf("seal key: random salt and nonce: %w", err)
	}
	copy(out[offFP:offCheck], fingerprint)
	encKey, check := derive(pass, out[offSalt:offNonce], p)
	defer clear(encKey)
	copy(out[offCheck:headerLen], check)
	aead, err := chacha20poly1305.NewX(encKey)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	ad, nonce := bytes.Clone(out[:offCheck]), bytes.Clone(out[offNonce:offFP]) // dst must not overlap them
	out = aead.Seal(out, nonce, payload, ad)
	return binary.BigEndian.AppendUint32(out, crc32c(out)), nil
}

// derive runs argon2id and splits its output, by HMAC with distinct labels,
// into the cipher key and the passphrase check. The check lets Open tell a
// wrong passphrase from an altered blob; it is worth no more to an attacker
// than the AEAD tag is (either needs the full argon2 per guess).
func derive(pass, salt []byte, p Params) (encKey, check []byte) {
	master := argon2.IDKey(pass, salt, p.Time, p.MemoryKiB, p.Threads, 32)
	defer clear(master)
	mac := func(label string) []byte {
		h := hmac.New(sha256.New, master)
		h.Write([]byte(label))
		return h.Sum(nil)
	}
	return mac("seedpod keylock v1: encryption key"), mac("seedpod keylock v1: passphrase check")[:checkLen]
}

// Open unlocks a sealed key (binary or armored) and returns the key as PEM:
// the block type it was sealed with, its DER unchanged (so a key written by
// pem.EncodeToMemory comes back byte for byte).
//
// Refusals: ErrNotSealed, ErrCorrupt (damaged or altered), ErrUnsupported,
// ErrBadParams (parameters over the caps: checked before any work),
// ErrWrongPassphrase. No passphrase opens a blob whose salt or parameters
// were altered, and Open reports that as ErrWrongPassphrase: the two cannot
// be told apart.
func Open(sealed, passphrase []byte) ([]byte, error) {
	return open(sealed, passphrase, defaultLimits())
}

func open(sealed, passphrase []byte, l limits) ([]byte, error) {
	blob, err := unarmor(sealed)
	if err != nil {
		return nil, fmt.Errorf("open sealed key: %w", err)
	}
	info, err := parseHeader(blob, l)
	if err != nil {
		return nil, fmt.Errorf("open sealed key: %w", err)
	}
	pass, err := normPassphrase(passphrase)
	if err != nil {
		return nil, fmt.Errorf("open sealed key: %w", err)
	}
	encKey, check := derive(pass, blob[offSalt:offNonce], info.Params)
	defer clear(encKey)
	aead, err := chacha20poly1305.NewX(encKey)
	if err != nil {
		return nil, fmt.Errorf("open sealed key: %w", err)
	}
	body := blob[headerLen : len(blob)-crcLen]
	payload, aerr := aead.Open(nil, blob[offNonce:offFP], body, blob[:offCheck])
	defer clear(payload)
	if subtle.ConstantTimeCompare(check, blob[offCheck:headerLen]) != 1 {
		if aerr == nil {
			return nil, fmt.Errorf("open sealed key: %w: the passphrase check was altered", ErrCorrupt)
		}
		return nil, fmt.Errorf("open sealed key (fingerprint %.16s…): %w", info.Fingerprint, ErrWrongPassphrase)
	}
	if aerr != nil {
		return nil, fmt.Errorf("open sealed key: %w: authentication failed with the right passphrase", ErrCorrupt)
	}
	k, err := decodeKey(payload)
	if err != nil {
		return nil, fmt.Errorf("open sealed key: %w: the sealed payload: %w", ErrCorrupt, err)
	}
	if !bytes.Equal(k.fingerprint[:], blob[offFP:offCheck]) {
		return nil, fmt.Errorf("open sealed key: %w: key fingerprint %s, header says %s", ErrCorrupt, k.fingerprintHex(), info.Fingerprint)
	}
	return k.pem(), nil
}

// Inspect reads a sealed key's header without the passphrase: the format
// version, the parameters and the fingerprint. It refuses what Open would
// refuse before asking for the passphrase; with ErrBadParams it still
// returns the Info.
func Inspect(sealed []byte) (Info, error) {
	blob, err := unarmor(sealed)
	if err != nil {
		return Info{}, fmt.Errorf("inspect sealed key: %w", err)
	}
	info, err := parseHeader(blob, defaultLimits())
	if err != nil {
		return info, fmt.Errorf("inspect sealed key: %w", err)
	}
	return info, nil
}

// IsSealed reports whether b looks like a sealed key, binary or armored
// (its magic or armor line; Inspect checks the rest).
func IsSealed(b []byte) bool {
	if bytes.HasPrefix(b, []byte(magic)) {
		return true
	}
	return bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("-----BEGIN "+armorType+"-----"))
}

// Armor returns a binary sealed key as a PEM block of type "SEEDPOD SEALED
// KEY", for storing beside (or instead of) a plain key PEM. Open, Inspect,
// IsSealed and NewSheet take either form.
func Armor(sealed []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: armorType, Bytes: sealed})
}

// unarmor returns the binary blob of b, binary or armored.
func unarmor(b []byte) ([]byte, error) {
	if bytes.HasPrefix(b, []byte(magic)) {
		if len(b) > MaxSealed {
			return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrCorrupt, len(b), MaxSealed)
		}
		return b, nil
	}
	if !IsSealed(b) {
		return nil, fmt.Errorf("%w: neither the %q magic nor a %q PEM block", ErrNotSealed, magic, armorType)
	}
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) > maxArmored {
		return nil, fmt.Errorf("%w: %d bytes of armor, at most %d", ErrCorrupt, len(b), maxArmored)
	}
	block, rest := pem.Decode(b)
	switch {
	case block == nil:
		return nil, fmt.Errorf("%w: the %q PEM block does not decode", ErrCorrupt, armorType)
	case block.Type != armorType || len(block.Headers) != 0:
		return nil, fmt.Errorf("%w: PEM block %q with %d headers", ErrCorrupt, block.Type, len(block.Headers))
	case len(bytes.TrimSpace(rest)) != 0:
		return nil, fmt.Errorf("%w: data after the %q block", ErrCorrupt, armorType)
	case !bytes.HasPrefix(block.Bytes, []byte(magic)):
		return nil, fmt.Errorf("%w: the %q block does not hold a sealed key", ErrCorrupt, armorType)
	}
	return block.Bytes, nil
}

// parseHeader checks a binary blob's length, checksum, format and
// parameters, in that order, and returns its Info.
func parseHeader(b []byte, l limits) (Info, error) {
	if !bytes.HasPrefix(b, []byte(magic)) {
		return Info{}, fmt.Errorf("%w: no %q magic", ErrNotSealed, magic)
	}
	if len(b) < minSealed {
		return Info{}, fmt.Errorf("%w: %d bytes, at least %d (cut off?)", ErrCorrupt, len(b), minSealed)
	}
	if len(b) > MaxSealed {
		return Info{}, fmt.Errorf("%w: %d bytes, at most %d", ErrCorrupt, len(b), MaxSealed)
	}
	n := len(b) - crcLen
	if got, want := binary.BigEndian.Uint32(b[n:]), crc32c(b[:n]); got != want {
		return Info{}, fmt.Errorf("%w: checksum %08x, computed %08x over %d bytes (damaged or cut off)", ErrCorrupt, got, want, n)
	}
	if b[4] != version1 {
		return Info{}, fmt.Errorf("%w: version %d (this build reads version %d)", ErrUnsupported, b[4], version1)
	}
	if b[5] != kdfArgon2id || b[6] != aeadXChaCha {
		return Info{}, fmt.Errorf("%w: KDF %d, cipher %d (this build knows 1 and 1)", ErrUnsupported, b[5], b[6])
	}
	info := Info{
		Version: int(b[4]),
		Params: Params{
			Time:      binary.BigEndian.Uint32(b[offTime:]),
			MemoryKiB: binary.BigEndian.Uint32(b[offMemory:]),
			Threads:   b[offThreads],
		},
		Fingerprint: hex.EncodeToString(b[offFP:offCheck]),
	}
	if err := info.Params.check(l); err != nil {
		return info, err
	}
	return info, nil
}

func normPassphrase(p []byte) ([]byte, error) {
	if len(p) > MaxPassphrase {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadPassphrase, len(p), MaxPassphrase)
	}
	n := norm.NFC.Bytes(p)
	if len(n) > MaxPassphrase {
		return nil, fmt.Errorf("%w: %d bytes once normalised, at most %d", ErrBadPassphrase, len(n), MaxPassphrase)
	}
	return n, nil
}

func crc32c(b []byte) uint32 {
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}
