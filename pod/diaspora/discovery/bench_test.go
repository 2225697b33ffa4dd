package discovery

import (
	"testing"

	"seedpod/pod/internal/vectors"
)

// Benchmarks of the parsers on the reference documents.
func BenchmarkParseHCard(b *testing.B) {
	doc := vectors.Read(b, "generated/discovery/hcard.html")
	for b.Loop() {
		if _, err := ParseHCard(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJRD(b *testing.B) {
	doc := vectors.Read(b, "generated/discovery/webfinger.json")
	for b.Loop() {
		if _, err := ParseJRD(doc, aliceID); err != nil {
			b.Fatal(err)
		}
	}
}
