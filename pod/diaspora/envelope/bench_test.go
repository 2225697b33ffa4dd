package envelope

import (
	"crypto/rsa"
	"testing"

	"seedpod/pod/diaspora/keys"
)

// Benchmarks use one 4096-bit key (diaspora's user key size), generated once.
// As of Go 1.26.8 on a 2-vCPU Xeon @ 2.5 GHz (shared, loaded): Parse+Verify
// ~0.59 ms, 166 allocs; Sign ~11.8 ms, 56 allocs; Encrypt ~1.1 ms, 110
// allocs; Decrypt ~9.0 ms, 51 allocs. RSA dominates; Parse is noise.

var benchKey *rsa.PrivateKey

func benchSetup(b *testing.B) (*rsa.PrivateKey, []byte) {
	b.Helper()
	if benchKey == nil {
		k, err := keys.Generate(4096)
		if err != nil {
			b.Fatal(err)
		}
		benchKey = k
	}
	// Shaped like generated/entities/status_message_minimal.xml.
	payload := []byte("<status_message>\n  <author>alice@pod-a.example</author>\n  <guid>17418fb029e6013487743131731751e9</guid>\n" +
		"  <created_at>2016-07-11T22:38:19Z</created_at>\n  <public>true</public>\n  <text>I am a very interesting status update</text>\n</status_message>")
	return benchKey, payload
}

func BenchmarkVerifyPublic4096(b *testing.B) {
	k, payload := benchSetup(b)
	doc, err := Sign(payload, "alice@pod-a.example", k)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e, err := Parse(doc)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Verify(&k.PublicKey); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign4096(b *testing.B) {
	k, payload := benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Sign(payload, "alice@pod-a.example", k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncrypt4096(b *testing.B) {
	k, payload := benchSetup(b)
	doc, err := Sign(payload, "alice@pod-a.example", k)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Encrypt(doc, &k.PublicKey); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt4096(b *testing.B) {
	k, payload := benchSetup(b)
	doc, err := Sign(payload, "alice@pod-a.example", k)
	if err != nil {
		b.Fatal(err)
	}
	body, err := Encrypt(doc, &k.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decrypt(body, k); err != nil {
			b.Fatal(err)
		}
	}
}
