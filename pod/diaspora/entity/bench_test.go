package entity

import (
	"testing"

	"seedpod/pod/internal/vectors"
)

func BenchmarkParseStatusMessage(b *testing.B) {
	raw := vectors.Read(b, "generated/entities/status_message_full.xml")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyComment(b *testing.B) {
	e, err := Parse(vectors.Read(b, "generated/entities/comment.xml"))
	if err != nil {
		b.Fatal(err)
	}
	pub := pubKey(b, "alice_integration_spec_rsa1024")
	r := e.(Relayable)
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyAuthorSignature(r, pub); err != nil {
			b.Fatal(err)
		}
	}
}
