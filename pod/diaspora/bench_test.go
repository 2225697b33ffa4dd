package diaspora

import (
	"testing"

	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
)

// BenchmarkReceivePublicStatusMessage4096 is the whole public receive of a
// status message signed with a 4096-bit key, as a pod does it for every
// public post: envelope parse, RSA verify, entity parse and validation, the
// sender and public checks. Target (issue 3): ≥ 1,000 per second per core,
// i.e. ≤ 1 ms/op.
func BenchmarkReceivePublicStatusMessage4096(b *testing.B) {
	k, err := keys.Generate(4096)
	if err != nil {
		b.Fatal(err)
	}
	// The baseline: the one RSA-4096 verification every public envelope
	// costs. The other sub-benchmarks minus this is our own overhead.
	b.Run("rsa_verify_only", func(b *testing.B) {
		msg := []byte("a signature base string of typical length, padded out to look like one")
		sig, err := keys.Sign(k, msg)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := keys.Verify(&k.PublicKey, msg, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, f := range []string{"status_message_minimal", "status_message_full"} {
		b.Run(f, func(b *testing.B) {
			payload := vectors.Read(b, "generated/entities/"+f+".xml")
			doc, err := envelope.Sign(payload, alice, k)
			if err != nil {
				b.Fatal(err)
			}
			ks := Keys{alice: &k.PublicKey}
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := ReceivePublic(doc, ks, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
