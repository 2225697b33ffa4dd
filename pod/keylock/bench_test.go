package keylock

import (
	"testing"
)

// Seal and Open with DefaultParams on a 4096-bit key. On the 2-core build
// machine, loaded (load average 4): Seal 0.84–1.4 s, Open 0.84–1.3 s, each
// 268 MB and ~600 allocations; argon2 is nearly all of it (parsing and
// rebuilding the RSA key ~17 ms). Restore of a 26-line sheet ~0.13 ms,
// the printable page with two QR codes ~50 ms.
func BenchmarkSeal(b *testing.B) {
	key := []byte(rsa4096PKCS8[1:])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(key, []byte("correct horse battery staple"), DefaultParams()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	key := []byte(rsa4096PKCS8[1:])
	sealed, err := Seal(key, []byte("correct horse battery staple"), DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(sealed, []byte("correct horse battery staple")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenWrongPassphrase: a wrong guess costs the same as a right one.
func BenchmarkOpenWrongPassphrase(b *testing.B) {
	sealed, err := Seal([]byte(rsa4096PKCS8[1:]), []byte("correct horse battery staple"), DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Open(sealed, []byte("wrong")); err == nil {
			b.Fatal("opened")
		}
	}
}

// BenchmarkRestore: typing back a sealed 4096-bit key's sheet (26 lines).
func BenchmarkRestore(b *testing.B) {
	s, err := NewSheet(sealT(b, []byte(rsa4096PKCS8[1:]), "p"), "", day)
	if err != nil {
		b.Fatal(err)
	}
	text := s.Text()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Restore(text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSheetHTML: the printable page with its QR codes.
func BenchmarkSheetHTML(b *testing.B) {
	s, err := NewSheet(sealT(b, []byte(rsa4096PKCS8[1:]), "p"), "alice@pod.example", day)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.HTML(); err != nil {
			b.Fatal(err)
		}
	}
}
