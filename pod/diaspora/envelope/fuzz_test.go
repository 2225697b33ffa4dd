package envelope

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"seedpod/pod/internal/vectors"
)

// FuzzParse feeds arbitrary bytes to Parse, seeded with every envelope vector.
//
// Invariants:
//   - Parse never panics, and work is bounded (input over MaxEnvelopeBytes is
//     refused before parsing; nesting is capped).
//   - Every error wraps ErrEnvelope.
//   - An accepted envelope has non-empty Payload, Sender and Signature and
//     the exact diaspora type/encoding/alg values.
//   - Encode stability: re-rendering the parsed fields in the reference's
//     layout parses back to the same Payload, Sender, Signature and
//     SignatureBase, and re-rendering that is byte-identical.
func FuzzParse(f *testing.F) {
	for _, pat := range []string{"generated/envelopes/*.xml", "generated/negative/*.xml", "generated/legacy_gem_0.2.8/*.envelope.xml", "upstream_docs/magic_envelope_example.xml"} {
		for _, p := range vectors.Glob(f, pat) {
			f.Add(vectors.Read(f, p))
		}
	}
	f.Add([]byte(`<me:env xmlns:me="x"><me:data type="application/xml">PHg-</me:data><me:encoding>base64url</me:encoding><me:alg>RSA-SHA256</me:alg><me:sig key_id="YUBi">AA</me:sig></me:env>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		e, err := Parse(doc)
		if err != nil {
			if !errors.Is(err, ErrEnvelope) {
				t.Fatalf("error does not wrap ErrEnvelope: %v", err)
			}
			return
		}
		if len(e.Payload) == 0 || e.Sender == "" || len(e.Signature) == 0 {
			t.Fatalf("accepted with empty field: %+v", e)
		}
		if e.DataType != DataType || e.Encoding != Encoding || e.Alg != Algorithm {
			t.Fatalf("accepted with wrong constants: %+v", e)
		}
		again := rerender(e)
		e2, err := Parse(again)
		if err != nil {
			t.Fatalf("re-rendered document rejected: %v\n%s", err, again)
		}
		if !bytes.Equal(e2.Payload, e.Payload) || e2.Sender != e.Sender || !bytes.Equal(e2.Signature, e.Signature) ||
			!bytes.Equal(e2.SignatureBase(), e.SignatureBase()) {
			t.Fatalf("re-render changed fields: %+v vs %+v", e, e2)
		}
		if !bytes.Equal(rerender(e2), again) {
			t.Fatal("rendering is not stable")
		}
	})
}

func rerender(e *Envelope) []byte {
	return render([]byte(base64.URLEncoding.EncodeToString(e.Payload)), []byte(base64.URLEncoding.EncodeToString([]byte(e.Sender))), e.Signature)
}

// FuzzDecrypt feeds arbitrary bodies to Decrypt with bob's private key,
// seeded with the encrypted vectors addressed to him.
//
// Invariants:
//   - Decrypt never panics; work is bounded (MaxEncryptedBytes, ciphertext
//     length checked before RSA/AES work, one RSA decryption per call).
//   - Every error wraps ErrDecrypt.
//   - Accepted output is non-empty and at most MaxEnvelopeBytes.
//   - Round trip: encrypting the output again to bob decrypts to the same
//     bytes.
func FuzzDecrypt(f *testing.F) {
	bob := privateKey(f, "bob@pod-b.example")
	f.Add(vectors.Read(f, "generated/envelopes/private_status_message.encrypted.json"))
	f.Add(vectors.Read(f, "generated/envelopes/private_message.encrypted.json"))
	f.Add([]byte(`{"aes_key":"","encrypted_magic_envelope":""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := Decrypt(body, bob)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error does not wrap ErrDecrypt: %v", err)
			}
			return
		}
		if len(out) == 0 || len(out) > MaxEnvelopeBytes {
			t.Fatalf("accepted %d bytes", len(out))
		}
		again, err := Encrypt(out, &bob.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		out2, err := Decrypt(again, bob)
		if err != nil || !bytes.Equal(out2, out) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
