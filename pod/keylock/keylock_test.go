package keylock

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"runtime"
	"strings"
	"testing"

	"seedpod/pod/internal/vectors"
)

func TestSealOpenRoundTrip(t *testing.T) {
	for _, k := range testKeys(t) {
		t.Run(k.name, func(t *testing.T) {
			sealed := sealT(t, k.pem, "correct horse battery staple")
			if !IsSealed(sealed) || !IsSealed(Armor(sealed)) || IsSealed(k.pem) {
				t.Fatal("IsSealed: want true for the blob and its armor, false for the PEM")
			}
			if bytes.Contains(sealed, k.pem[40:80]) {
				t.Fatal("the sealed blob contains the key's PEM")
			}
			for name, in := range map[string][]byte{"binary": sealed, "armored": Armor(sealed), "armored, indented": append([]byte("\n  "), Armor(sealed)...)} {
				got, err := Open(in, []byte("correct horse battery staple"))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(got, k.pem) {
					t.Fatalf("%s: Open gave\n%s\nwant\n%s", name, got, k.pem)
				}
			}
			info, err := Inspect(sealed)
			if err != nil {
				t.Fatal(err)
			}
			fp, err := Fingerprint(k.pem)
			if err != nil {
				t.Fatal(err)
			}
			if info != (Info{Version: 1, Params: fast, Fingerprint: fp}) {
				t.Fatalf("Inspect = %+v, want version 1, %+v, %s", info, fast, fp)
			}
			again := sealT(t, k.pem, "correct horse battery staple")
			if bytes.Equal(again[:offCheck], sealed[:offCheck]) {
				t.Fatal("two seals share salt and nonce")
			}
		})
	}
}

// The fingerprint is the pod's: SHA-256 of the SPKI DER, which for the
// vector keys is the body of their .public.pem.
func TestFingerprintMatchesPublicKey(t *testing.T) {
	for _, name := range []string{"bob_generated_rsa2048", "alice_new_generated_rsa2048", "alice_integration_spec_rsa1024"} {
		pub, _ := pem.Decode(vectors.Read(t, "keys/"+name+".public.pem"))
		sum := sha256.Sum256(pub.Bytes)
		got, err := Fingerprint(vectors.Read(t, "keys/"+name+".private.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if got != hex.EncodeToString(sum[:]) {
			t.Fatalf("%s: fingerprint %s, public key's %x", name, got, sum)
		}
	}
}

func TestOpenWrongPassphrase(t *testing.T) {
	k := testKeys(t)[1]
	sealed := sealT(t, k.pem, "right")
	for _, pass := range []string{"wrong", "", "Right", "right ", strings.Repeat("x", MaxPassphrase)} {
		_, err := Open(sealed, []byte(pass))
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("passphrase %.10q: %v, want ErrWrongPassphrase", pass, err)
		}
	}
	_, err := Open(sealed, []byte(strings.Repeat("x", MaxPassphrase+1)))
	if !errors.Is(err, ErrBadPassphrase) {
		t.Fatalf("over-long passphrase: %v, want ErrBadPassphrase", err)
	}
}

// A passphrase typed with a composed é opens what was sealed with e + ◌́.
func TestPassphraseNormalised(t *testing.T) {
	k := testKeys(t)[1]
	sealed := sealT(t, k.pem, "caf\u00e9 cr\u00e8me")
	if _, err := Open(sealed, []byte("cafe\u0301 cre\u0300me")); err != nil {
		t.Fatal(err)
	}
}

func TestSealRefuses(t *testing.T) {
	k := testKeys(t)[1]
	block, _ := pem.Decode(k.pem)
	_, edPriv, _ := ed25519.GenerateKey(nil)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	for _, tc := range []struct {
		name string
		key  []byte
		pass string
		p    Params
		want error
	}{
		{"empty passphrase", k.pem, "", fast, ErrBadPassphrase},
		{"long passphrase", k.pem, strings.Repeat("p", MaxPassphrase+1), fast, ErrBadPassphrase},
		{"zero time", k.pem, "p", Params{Time: 0, MemoryKiB: 64, Threads: 1}, ErrBadParams},
		{"zero threads", k.pem, "p", Params{Time: 1, MemoryKiB: 64, Threads: 0}, ErrBadParams},
		{"memory under 8 KiB a thread", k.pem, "p", Params{Time: 1, MemoryKiB: 31, Threads: 4}, ErrBadParams},
		{"memory over the cap", k.pem, "p", Params{Time: 1, MemoryKiB: MaxMemoryKiB + 1, Threads: 1}, ErrBadParams},
		{"work over the cap", k.pem, "p", Params{Time: 5, MemoryKiB: MaxMemoryKiB, Threads: 1}, ErrBadParams},
		{"nothing", nil, "p", fast, ErrBadKey},
		{"not PEM", []byte("hello"), "p", fast, ErrBadKey},
		{"public key", vectors.Read(t, "keys/bob_generated_rsa2048.public.pem"), "p", fast, ErrBadKey},
		{"trailing data", append(bytes.Clone(k.pem), "x"...), "p", fast, ErrBadKey},
		{"two keys", append(bytes.Clone(k.pem), k.pem...), "p", fast, ErrBadKey},
		{"legacy encrypted PEM", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: block.Bytes}), "p", fast, ErrBadKey},
		{"PKCS#1 labelled PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: block.Bytes}), "p", fast, ErrBadKey},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not DER")}), "p", fast, ErrBadKey},
		{"huge", bytes.Repeat([]byte("A"), MaxKeyPEM+1), "p", fast, ErrBadKey},
		{"a sealed key", sealT(t, k.pem, "p"), "p", fast, ErrBadKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Seal(tc.key, []byte(tc.pass), tc.p)
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("Seal: %v, want %v", err, tc.want)
			}
		})
	}
	// Keys other than RSA seal too (as DER): the format is not RSA-only.
	ed := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER})
	got, err := Open(sealT(t, ed, "p"), []byte("p"))
	if err != nil || !bytes.Equal(got, ed) {
		t.Fatalf("Ed25519 key: %v", err)
	}
}

// Every byte flipped: the checksum catches it before any key derivation.
func TestOpenEveryByteFlipped(t *testing.T) {
	for _, k := range testKeys(t)[:2] {
		sealed := sealT(t, k.pem, "p")
		for i := range sealed {
			b := bytes.Clone(sealed)
			b[i] ^= 0xff
			_, err := Open(b, []byte("p"))
			switch {
			case i < 4 && !errors.Is(err, ErrNotSealed):
				t.Fatalf("%s: byte %d flipped: %v, want ErrNotSealed", k.name, i, err)
			case i >= 4 && !errors.Is(err, ErrCorrupt):
				t.Fatalf("%s: byte %d flipped: %v, want ErrCorrupt", k.name, i, err)
			}
			if _, err := Inspect(b); err == nil {
				t.Fatalf("%s: byte %d flipped: Inspect accepted it", k.name, i)
			}
		}
	}
}

// Tampering by someone who recomputes the checksum: every byte refused,
// and refused for the reason its place in the blob gives.
func TestOpenTampered(t *testing.T) {
	k := testKeys(t)[1]
	sealed := sealT(t, k.pem, "p")
	for i := 0; i < len(sealed)-crcLen; i++ {
		for _, mask := range []byte{0x01, 0x80} {
			b := bytes.Clone(sealed)
			b[i] ^= mask
			fixCRC(b)
			_, err := open(b, []byte("p"), tight)
			var want []error
			switch {
			case i < 4:
				want = []error{ErrNotSealed}
			case i < offThreads:
				want = []error{ErrUnsupported}
			case i < offSalt: // parameters: over the caps, or another key derived
				want = []error{ErrBadParams, ErrWrongPassphrase}
			case i < offNonce: // salt: another key derived
				want = []error{ErrWrongPassphrase}
			default: // nonce, fingerprint, check, ciphertext, tag
				want = []error{ErrCorrupt}
			}
			if !isAny(err, want...) {
				t.Fatalf("byte %d ^ %#x: %v, want one of %v", i, mask, err, want)
			}
		}
	}
}

func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func fixCRC(b []byte) {
	n := len(b) - crcLen
	binary.BigEndian.PutUint32(b[n:], crc32c(b[:n]))
}

func TestOpenTruncatedAndExtended(t *testing.T) {
	k := testKeys(t)[1]
	sealed := sealT(t, k.pem, "p")
	for n := range len(sealed) {
		_, err := Open(sealed[:n], []byte("p"))
		if n < 4 && !errors.Is(err, ErrNotSealed) || n >= 4 && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut to %d bytes: %v", n, err)
		}
	}
	for _, extra := range [][]byte{{0}, []byte("\n"), bytes.Repeat([]byte{1}, 100)} {
		if _, err := Open(append(bytes.Clone(sealed), extra...), []byte("p")); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%d bytes appended: %v", len(extra), err)
		}
	}
	if _, err := Open(append([]byte("SDKL"), make([]byte, MaxSealed)...), []byte("p")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("oversized: %v", err)
	}
}

// A hostile blob (valid checksum, parameters over the caps) is refused
// before argon2 runs: no memory is taken.
func TestOpenHostileParams(t *testing.T) {
	k := testKeys(t)[1]
	sealed := sealT(t, k.pem, "p")
	for _, tc := range []struct {
		name string
		p    Params
	}{
		{"4 GiB", Params{Time: 1, MemoryKiB: 4 << 20, Threads: 1}},
		{"max uint32 memory", Params{Time: 1, MemoryKiB: 1<<32 - 1, Threads: 4}},
		{"max uint32 time", Params{Time: 1<<32 - 1, MemoryKiB: 64, Threads: 1}},
		{"17 passes", Params{Time: MaxTime + 1, MemoryKiB: 64, Threads: 1}},
		{"255 threads", Params{Time: 1, MemoryKiB: 64 << 10, Threads: 255}},
		{"cap memory, 5 passes", Params{Time: 5, MemoryKiB: MaxMemoryKiB, Threads: 4}},
		{"zero time", Params{Time: 0, MemoryKiB: 64, Threads: 1}},
		{"zero threads", Params{Time: 1, MemoryKiB: 64, Threads: 0}},
		{"zero memory", Params{Time: 1, MemoryKiB: 0, Threads: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := withParams(sealed, tc.p)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Open(b, []byte("p"))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrBadParams) {
				t.Fatalf("Open: %v, want ErrBadParams", err)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
				t.Fatalf("Open allocated %d bytes refusing it", d)
			}
			info, err := Inspect(b)
			if !errors.Is(err, ErrBadParams) || info.Params != tc.p {
				t.Fatalf("Inspect: %+v, %v", info, err)
			}
		})
	}
}

func withParams(sealed []byte, p Params) []byte {
	b := bytes.Clone(sealed)
	b[offThreads] = p.Threads
	binary.BigEndian.PutUint32(b[offTime:], p.Time)
	binary.BigEndian.PutUint32(b[offMemory:], p.MemoryKiB)
	fixCRC(b)
	return b
}

func TestOpenUnsupported(t *testing.T) {
	sealed := sealT(t, testKeys(t)[1].pem, "p")
	for _, off := range []int{4, 5, 6} {
		b := bytes.Clone(sealed)
		b[off] = 2
		fixCRC(b)
		if _, err := Open(b, []byte("p")); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("byte %d = 2: %v", off, err)
		}
	}
}

func TestArmorRefused(t *testing.T) {
	sealed := sealT(t, testKeys(t)[1].pem, "p")
	armored := Armor(sealed)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"plain PEM key", testKeys(t)[1].pem, ErrNotSealed},
		{"empty", nil, ErrNotSealed},
		{"trailing data", append(bytes.Clone(armored), "x"...), ErrCorrupt},
		{"headers", pem.EncodeToMemory(&pem.Block{Type: armorType, Headers: map[string]string{"A": "b"}, Bytes: sealed}), ErrCorrupt},
		{"not a blob inside", pem.EncodeToMemory(&pem.Block{Type: armorType, Bytes: []byte("hello")}), ErrCorrupt},
		{"broken base64", []byte("-----BEGIN " + armorType + "-----\n!!!!\n-----END " + armorType + "-----\n"), ErrCorrupt},
		{"huge", append([]byte("-----BEGIN "+armorType+"-----\n"), bytes.Repeat([]byte("A"), maxArmored)...), ErrCorrupt},
	} {
		if _, err := Open(tc.in, []byte("p")); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestDefaultParams(t *testing.T) {
	p := DefaultParams()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.MemoryKiB > 256<<10 {
		t.Fatalf("default memory %d KiB is over 256 MiB", p.MemoryKiB)
	}
	if w := uint64(p.Time) * uint64(p.MemoryKiB); w*2 != maxWork {
		t.Fatalf("the work cap (%d) is not twice the default's work (%d)", maxWork, w)
	}
}
