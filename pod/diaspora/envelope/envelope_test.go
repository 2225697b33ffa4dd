package envelope

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path"
	"strings"
	"sync"
	"testing"

	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
)

// Identities of the generated vectors and their key files (vectors/README.md).
var keyFiles = map[string]string{
	"alice@pod-a.example": "keys/alice_integration_spec_rsa1024",
	"bob@pod-b.example":   "keys/bob_generated_rsa2048",
	"alice@pod-c.example": "keys/alice_new_generated_rsa2048",
}

func publicKey(t testing.TB, sender string) *rsa.PublicKey {
	t.Helper()
	f, ok := keyFiles[sender]
	if !ok {
		t.Fatalf("no key for %q", sender)
	}
	k, err := keys.ParsePublic(vectors.Read(t, f+".public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func privateKey(t testing.TB, sender string) *rsa.PrivateKey {
	t.Helper()
	k, err := keys.ParsePrivate(vectors.Read(t, keyFiles[sender]+".private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Freshly generated keys are slow (4096 bits especially): make them once.
var (
	genOnce sync.Once
	gen2048 *rsa.PrivateKey
	gen4096 *rsa.PrivateKey
	genErr  error
)

func generated(t testing.TB) (k2048, k4096 *rsa.PrivateKey) {
	t.Helper()
	genOnce.Do(func() {
		if gen2048, genErr = keys.Generate(2048); genErr != nil {
			return
		}
		gen4096, genErr = keys.Generate(4096)
	})
	if genErr != nil {
		t.Fatal(genErr)
	}
	return gen2048, gen4096
}

// Companion files of some envelopes.
var companions = map[string]string{
	"public_status_message.xml":                 "public_status_message",
	"relayed_comment_signed_by_root_author.xml": "relayed_comment",
}

func TestGeneratedEnvelopes(t *testing.T) {
	files := vectors.Glob(t, "generated/envelopes/*.xml")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".payload.xml") {
			continue
		}
		n++
		t.Run(path.Base(f), func(t *testing.T) {
			doc := vectors.Read(t, f)
			e, err := Parse(doc)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := e.Verify(publicKey(t, e.Sender)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c, ok := companions[path.Base(f)]; ok {
				dir := path.Dir(f)
				if want := vectors.Read(t, dir+"/"+c+".payload.xml"); !bytes.Equal(e.Payload, want) {
					t.Errorf("payload differs from %s.payload.xml", c)
				}
				if want := vectors.Read(t, dir+"/"+c+".sigbase.txt"); !bytes.Equal(e.SignatureBase(), want) {
					t.Errorf("signature base differs from %s.sigbase.txt:\n got %s\nwant %s", c, e.SignatureBase(), want)
				}
			}
			again, err := Sign(e.Payload, e.Sender, privateKey(t, e.Sender))
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !bytes.Equal(again, doc) {
				t.Errorf("Sign does not reproduce the document:\n got %s\nwant %s", again, doc)
			}
		})
	}
	if n < 8 {
		t.Errorf("only %d envelope vectors found", n)
	}
}

func TestSignReproducesReference(t *testing.T) {
	payload := vectors.Read(t, "generated/envelopes/public_status_message.payload.xml")
	want := vectors.Read(t, "generated/envelopes/public_status_message.xml")
	got, err := Sign(payload, "alice@pod-a.example", privateKey(t, "alice@pod-a.example"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestNegativeVectors(t *testing.T) {
	cases := []struct {
		file    string
		wantErr error // nil: accepted by Parse+Verify
	}{
		{"generated/negative/tampered_data.xml", ErrSignature},
		{"generated/negative/key_id_mismatch.xml", ErrSignature},
		{"generated/negative/wrong_data_type.xml", ErrDataType},
		{"generated/negative/no_me_prefix.xml", ErrEnvelope},
		{"generated/negative/unpadded_base64url_accepted.xml", nil},
		// Rejected by the receiver for sender/author/route reasons, which are
		// not this package's: the envelope itself is fine.
		{"generated/negative/sender_not_author.xml", nil},
		{"generated/negative/private_entity_on_public_route.xml", nil},
		{"generated/negative/relayable_relayed_by_non_root_author.xml", nil},
		{"generated/legacy_gem_0.2.8/comment_relayed_by_root_author_pod.envelope.xml", nil},
	}
	for _, c := range cases {
		t.Run(path.Base(c.file), func(t *testing.T) {
			e, err := Parse(vectors.Read(t, c.file))
			if err == nil {
				err = e.Verify(publicKey(t, e.Sender))
			}
			if c.wantErr == nil && err != nil {
				t.Fatalf("want accepted, got %v", err)
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("want %v, got %v", c.wantErr, err)
			}
		})
	}
	t.Run("legacy sender is bob", func(t *testing.T) {
		e, err := Parse(vectors.Read(t, "generated/legacy_gem_0.2.8/comment_relayed_by_root_author_pod.envelope.xml"))
		if err != nil || e.Sender != "bob@pod-b.example" {
			t.Fatalf("sender %v, err %v", e, err)
		}
	})
	t.Run("wrong_data_type is also ErrEnvelope", func(t *testing.T) {
		_, err := Parse(vectors.Read(t, "generated/negative/wrong_data_type.xml"))
		if !errors.Is(err, ErrEnvelope) {
			t.Fatal(err)
		}
	})
	t.Run("unpadded re-pads", func(t *testing.T) {
		e, err := Parse(vectors.Read(t, "generated/negative/unpadded_base64url_accepted.xml"))
		if err != nil {
			t.Fatal(err)
		}
		if e.Sender != "alice@pod-a.example" || e.KeyID != "YWxpY2VAcG9kLWEuZXhhbXBsZQ" {
			t.Fatalf("sender %q key_id %q", e.Sender, e.KeyID)
		}
	})
}

func TestUpstreamDocsExampleParses(t *testing.T) {
	e, err := Parse(vectors.Read(t, "upstream_docs/magic_envelope_example.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := vectors.Read(t, "upstream_docs/magic_envelope_example.decoded_payload.xml")
	if !bytes.Equal(bytes.TrimSpace(e.Payload), bytes.TrimSpace(want)) {
		t.Errorf("payload:\n%s\nwant\n%s", e.Payload, want)
	}
	if e.Sender == "" {
		t.Error("no sender")
	}
}

func TestDecryptVectors(t *testing.T) {
	bob := privateKey(t, "bob@pod-b.example")
	t.Run("private_status_message", func(t *testing.T) {
		body := vectors.Read(t, "generated/envelopes/private_status_message.encrypted.json")
		want := vectors.Read(t, "generated/envelopes/private_status_message.inner_envelope.xml")
		got, err := Decrypt(body, bob)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("inner envelope differs:\n%s", got)
		}
		e, err := Parse(got)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Verify(publicKey(t, e.Sender)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("EncryptWith reproduces encrypted_magic_envelope", func(t *testing.T) {
		var plain struct{ Key, IV []byte }
		if err := json.Unmarshal(vectors.Read(t, "generated/envelopes/private_status_message.aes_key_plain.json"), &plain); err != nil {
			t.Fatal(err)
		}
		var ref, ours struct {
			AESKey string `json:"aes_key"`
			EME    string `json:"encrypted_magic_envelope"`
		}
		if err := json.Unmarshal(vectors.Read(t, "generated/envelopes/private_status_message.encrypted.json"), &ref); err != nil {
			t.Fatal(err)
		}
		inner := vectors.Read(t, "generated/envelopes/private_status_message.inner_envelope.xml")
		body, err := EncryptWith(inner, &bob.PublicKey, plain.Key, plain.IV, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(body, &ours); err != nil {
			t.Fatal(err)
		}
		if ours.EME != ref.EME {
			t.Fatalf("encrypted_magic_envelope differs:\n got %s\nwant %s", ours.EME, ref.EME)
		}
		if !strings.HasPrefix(string(body), `{"aes_key":"`) || !strings.Contains(string(body), `","encrypted_magic_envelope":"`) {
			t.Fatalf("layout: %s", body)
		}
		got, err := Decrypt(body, bob)
		if err != nil || !bytes.Equal(got, inner) {
			t.Fatalf("round trip: %v", err)
		}
	})
	t.Run("private_message", func(t *testing.T) {
		got, err := Decrypt(vectors.Read(t, "generated/envelopes/private_message.encrypted.json"), bob)
		if err != nil {
			t.Fatal(err)
		}
		e, err := Parse(got)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Verify(publicKey(t, e.Sender)); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(e.Payload, []byte("<message>")) {
			t.Errorf("payload: %s", e.Payload)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	k2048, k4096 := generated(t)
	payload := vectors.Read(t, "generated/entities/status_message_minimal.xml")
	for _, k := range []*rsa.PrivateKey{k2048, k4096} {
		t.Run(strings.Repeat("x", 0)+itoa(k.N.BitLen()), func(t *testing.T) {
			doc, err := Sign(payload, "carol@seedpod.example", k)
			if err != nil {
				t.Fatal(err)
			}
			check := func(doc []byte) {
				t.Helper()
				e, err := Parse(doc)
				if err != nil {
					t.Fatal(err)
				}
				if e.Sender != "carol@seedpod.example" || !bytes.Equal(e.Payload, payload) {
					t.Fatalf("sender %q payload %q", e.Sender, e.Payload)
				}
				if err := e.Verify(&k.PublicKey); err != nil {
					t.Fatal(err)
				}
			}
			check(doc)
			body, err := Encrypt(doc, &k.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			inner, err := Decrypt(body, k)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(inner, doc) {
				t.Fatal("decrypted document differs")
			}
			check(inner)
			// Encrypting twice must use fresh keys.
			body2, _ := Encrypt(doc, &k.PublicKey)
			if bytes.Equal(body, body2) {
				t.Fatal("Encrypt is deterministic")
			}
			// Wrong key.
			e, _ := Parse(doc)
			other := k2048
			if k == k2048 {
				other = k4096
			}
			if err := e.Verify(&other.PublicKey); !errors.Is(err, ErrSignature) || !errors.Is(err, keys.ErrBadSignature) {
				t.Fatalf("wrong key: %v", err)
			}
			if _, err := Decrypt(body, other); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("wrong decryption key: %v", err)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestTamper changes one field of a good document at a time.
func TestTamper(t *testing.T) {
	alice := publicKey(t, "alice@pod-a.example")
	good := string(vectors.Read(t, "generated/envelopes/public_status_message.xml"))
	data := base64.URLEncoding.EncodeToString(vectors.Read(t, "generated/envelopes/public_status_message.payload.xml"))
	otherData := base64.URLEncoding.EncodeToString([]byte("<status_message>\n  <text>x</text>\n</status_message>"))
	const keyID = "YWxpY2VAcG9kLWEuZXhhbXBsZQ=="
	sigStart := strings.Index(good, keyID+`">`) + len(keyID) + 2
	sig := good[sigStart:strings.Index(good, "</me:sig>")]
	flipped := []byte(sig)
	if flipped[10] == 'A' {
		flipped[10] = 'B'
	} else {
		flipped[10] = 'A'
	}
	cases := []struct {
		name, old, new string
		want           error
	}{
		{"data", data, otherData, ErrSignature},
		{"sig", sig, string(flipped), ErrSignature},
		{"key_id other sender", keyID, base64.URLEncoding.EncodeToString([]byte("bob@pod-b.example")), ErrSignature},
		{"type", `type="application/xml"`, `type="application/xml "`, ErrDataType},
		{"type missing", ` type="application/xml"`, ``, ErrDataType},
		{"encoding", `>base64url<`, `>base64<`, ErrEncoding},
		{"alg", `>RSA-SHA256<`, `>RSA-SHA1<`, ErrAlgorithm},
		{"alg missing", "  <me:alg>RSA-SHA256</me:alg>\n", "", ErrAlgorithm},
		{"encoding missing", "  <me:encoding>base64url</me:encoding>\n", "", ErrEncoding},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(good, c.old) {
				t.Fatalf("%q not in document", c.old)
			}
			doc := strings.Replace(good, c.old, c.new, 1)
			e, err := Parse([]byte(doc))
			if err == nil {
				// A changed key_id names another sender; verifying with the
				// key of the sender it names (bob) must fail too.
				k := alice
				if e.Sender == "bob@pod-b.example" {
					k = publicKey(t, e.Sender)
				}
				err = e.Verify(k)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("want %v, got %v", c.want, err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	good := string(vectors.Read(t, "generated/envelopes/public_status_message.xml"))
	rep := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("%q not in document", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	laughs := `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<me:env xmlns:me="http://salmon-protocol.org/ns/magic-env"><me:data type="application/xml">&lol3;</me:data></me:env>`
	cases := []struct {
		name string
		doc  string
	}{
		{"empty", ""},
		{"not XML", "hello"},
		{"JSON", `{"aes_key":"x"}`},
		{"truncated", good[:len(good)/2]},
		{"wrong root", rep("<me:env ", "<me:envelope ")},
		{"no me prefix declared", rep(`xmlns:me=`, `xmlns:mx=`)},
		{"default namespace", string(vectors.Read(t, "generated/negative/no_me_prefix.xml"))},
		{"other prefix", strings.ReplaceAll(good, "me:", "x:")},
		{"missing data", rep(good[strings.Index(good, "  <me:data"):strings.Index(good, "  <me:encoding")], "")},
		{"empty data", rep(good[strings.Index(good, `xml">`)+5:strings.Index(good, "</me:data>")], "")},
		{"missing sig", rep(good[strings.Index(good, "  <me:sig"):strings.Index(good, "</me:env>")], "")},
		{"empty sig", rep(good[strings.Index(good, `==">`)+4:strings.Index(good, "</me:sig>")], "")},
		{"missing key_id", rep(`key_id=`, `kid=`)},
		{"empty key_id", rep(`key_id="YWxpY2VAcG9kLWEuZXhhbXBsZQ=="`, `key_id=""`)},
		{"control char key_id", rep(`YWxpY2VAcG9kLWEuZXhhbXBsZQ==`, base64.URLEncoding.EncodeToString([]byte("a\nb@c")))},
		{"newline in data", rep("PHN0YXR1c19", "PHN0\nYXR1c19")},
		{"space around data", rep(`xml">PHN0`, `xml"> PHN0`)},
		{"CR in sig", rep(`">XllYtAmN`, "\">Xll\rYtAmN")},
		{"bad base64 data", rep("PHN0YXR1c19", "PHN0YXR1c1*")},
		{"bad padding", rep("Cjwvc3RhdHVzX21lc3NhZ2U-<", "Cjwvc3RhdHVzX21lc3NhZ2U-=<")},
		{"duplicate data", rep("  <me:encoding>", "  <me:data type=\"application/xml\">AAAA</me:data>\n  <me:encoding>")},
		{"element in data", rep("PHN0YXR1c19", "<b/>PHN0YXR1c19")},
		{"mismatched end", rep("</me:alg>", "</me:algo>")},
		{"undeclared prefix", rep("<me:alg>RSA-SHA256</me:alg>", "<x:y>z</x:y><me:alg>RSA-SHA256</me:alg>")},
		{"two roots", good + "<me:env xmlns:me=\"x\"/>"},
		{"text after root", good + "junk"},
		{"DOCTYPE", rep("<me:env", "<!DOCTYPE me:env>\n<me:env")},
		{"billion laughs", laughs},
		{"undefined entity", rep("PHN0YXR1c19", "&foo;PHN0YXR1c19")},
		{"late xml declaration", "\n" + good},
		{"other PI", rep("<me:env", "<?php x?><me:env")},
		{"latin1", rep(`encoding="UTF-8"`, `encoding="ISO-8859-1"`)},
		{"deep", rep("<me:alg>RSA-SHA256</me:alg>", strings.Repeat("<a>", 40)+strings.Repeat("</a>", 40)+"<me:alg>RSA-SHA256</me:alg>")},
		{"oversize", rep("PHN0YXR1c19", strings.Repeat("A", MaxEnvelopeBytes)+"PHN0YXR1c19")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := Parse([]byte(c.doc))
			if err == nil {
				t.Fatalf("accepted: %+v", e)
			}
			if !errors.Is(err, ErrEnvelope) {
				t.Fatalf("error %v does not wrap ErrEnvelope", err)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	alice := publicKey(t, "alice@pod-a.example")
	good := string(vectors.Read(t, "generated/envelopes/public_status_message.xml"))
	cases := []struct{ name, doc string }{
		{"no declaration", good[strings.Index(good, "<me:env"):]},
		{"other namespace URI", strings.Replace(good, "http://salmon-protocol.org/ns/magic-env", "urn:x", 1)},
		{"compact", strings.NewReplacer("\n  ", "", "\n</me:env>", "</me:env>").Replace(good)},
		{"comment and unknown element", strings.Replace(good, "  <me:alg>", "  <!-- hi --><me:extra a=\"1\"><b>c</b></me:extra><other/>\n  <me:alg>", 1)},
		{"root prefix other", strings.NewReplacer("<me:env ", "<x:env xmlns:x=\"urn:y\" ", "</me:env>", "</x:env>").Replace(good)},
		{"std alphabet", strings.Replace(good, "PHN0YXR1c19tZXNzYWdlPgogIDxhdXRob3I-", "PHN0YXR1c19tZXNzYWdlPgogIDxhdXRob3I+", 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := Parse([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Verify(alice); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	k := privateKey(t, "alice@pod-a.example")
	for name, f := range map[string]func() error{
		"nil key":       func() error { _, err := Sign([]byte("<x/>"), "a@b", nil); return err },
		"empty payload": func() error { _, err := Sign(nil, "a@b", k); return err },
		"empty sender":  func() error { _, err := Sign([]byte("<x/>"), "", k); return err },
		"oversize":      func() error { _, err := Sign(bytes.Repeat([]byte("a"), MaxEnvelopeBytes), "a@b", k); return err },
		"verify nil":    func() error { return (&Envelope{}).Verify(nil) },
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDecryptRejects(t *testing.T) {
	bob := privateKey(t, "bob@pod-b.example")
	inner := vectors.Read(t, "generated/envelopes/private_status_message.inner_envelope.xml")
	key := make([]byte, 32)
	iv := make([]byte, 16)
	// body builds a body with a chosen KEYJSON and ciphertext, encrypted to bob.
	body := func(keyJSON string, ct []byte) string {
		ek, err := rsa.EncryptPKCS1v15(nil, &bob.PublicKey, []byte(keyJSON))
		if err != nil {
			t.Fatal(err)
		}
		return `{"aes_key":"` + base64.StdEncoding.EncodeToString(ek) + `","encrypted_magic_envelope":"` + base64.StdEncoding.EncodeToString(ct) + `"}`
	}
	goodKJ := `{"key":"` + base64.StdEncoding.EncodeToString(key) + `","iv":"` + base64.StdEncoding.EncodeToString(iv) + `"}`
	goodBody, err := EncryptWith(inner, &bob.PublicKey, key, iv, nil)
	if err != nil {
		t.Fatal(err)
	}
	var parts struct {
		AESKey string `json:"aes_key"`
		EME    string `json:"encrypted_magic_envelope"`
	}
	if err := json.Unmarshal(goodBody, &parts); err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(parts.EME)
	// A last block that decrypts to bad padding: encrypt a plaintext whose
	// final byte is 0 without padding it.
	badPad := func(last byte) []byte {
		pt := bytes.Repeat([]byte{'a'}, 32)
		pt[31] = last
		pt[30] = 5 // for last=3: 3 != 5 breaks padding
		out := make([]byte, len(pt))
		cbcEncrypt(t, key, iv, out, pt)
		return out
	}
	alt := privateKey(t, "alice@pod-c.example")
	cases := []struct{ name, body string }{
		{"empty", ""},
		{"not JSON", "<xml/>"},
		{"JSON array", `["a","b"]`},
		{"missing aes_key", `{"encrypted_magic_envelope":"` + parts.EME + `"}`},
		{"missing eme", `{"aes_key":"` + parts.AESKey + `"}`},
		{"wrong case key", `{"AES_KEY":"` + parts.AESKey + `","encrypted_magic_envelope":"` + parts.EME + `"}`},
		{"number aes_key", `{"aes_key":1,"encrypted_magic_envelope":"` + parts.EME + `"}`},
		{"bad base64 aes_key", `{"aes_key":"**","encrypted_magic_envelope":"` + parts.EME + `"}`},
		{"bad base64 eme", `{"aes_key":"` + parts.AESKey + `","encrypted_magic_envelope":"a-b_"}`},
		{"garbage RSA", `{"aes_key":"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 256)) + `","encrypted_magic_envelope":"` + parts.EME + `"}`},
		{"truncated ciphertext", `{"aes_key":"` + parts.AESKey + `","encrypted_magic_envelope":"` + base64.StdEncoding.EncodeToString(ct[:len(ct)-5]) + `"}`},
		{"empty ciphertext", `{"aes_key":"` + parts.AESKey + `","encrypted_magic_envelope":""}`},
		{"bad padding 0", body(goodKJ, badPad(0))},
		{"bad padding 17", body(goodKJ, badPad(17))},
		{"bad padding mismatch", body(goodKJ, badPad(3))},
		{"IV wrong length", body(`{"key":"`+base64.StdEncoding.EncodeToString(key)+`","iv":"`+base64.StdEncoding.EncodeToString(iv[:12])+`"}`, ct)},
		{"key wrong length", body(`{"key":"`+base64.StdEncoding.EncodeToString(key[:16])+`","iv":"`+base64.StdEncoding.EncodeToString(iv)+`"}`, ct)},
		{"key JSON not JSON", body(`key`, ct)},
		{"key JSON missing iv", body(`{"key":"`+base64.StdEncoding.EncodeToString(key)+`"}`, ct)},
		{"oversize", `{"aes_key":"` + strings.Repeat("A", MaxEncryptedBytes) + `"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := Decrypt([]byte(c.body), bob)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("want ErrDecrypt, got %v (%d bytes)", err, len(out))
			}
		})
	}
	t.Run("wrong RSA key", func(t *testing.T) {
		if _, err := Decrypt(goodBody, alt); !errors.Is(err, ErrDecrypt) {
			t.Fatal(err)
		}
	})
	t.Run("nil key", func(t *testing.T) {
		if _, err := Decrypt(goodBody, nil); !errors.Is(err, ErrDecrypt) {
			t.Fatal(err)
		}
	})
	t.Run("lenient base64 with line breaks and no padding", func(t *testing.T) {
		wrap := func(s string) string {
			var b strings.Builder
			for i := 0; i < len(s); i += 60 {
				b.WriteString(s[i:min(i+60, len(s))])
				b.WriteString("\n")
			}
			return strings.TrimRight(b.String(), "=\n")
		}
		lb := `{"encrypted_magic_envelope":"` + strings.ReplaceAll(wrap(parts.EME), "\n", `\n`) + `", "aes_key":"` + strings.ReplaceAll(wrap(parts.AESKey), "\n", `\n`) + `", "extra": 1}`
		got, err := Decrypt([]byte(lb), bob)
		if err != nil || !bytes.Equal(got, inner) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("EncryptWith rejects", func(t *testing.T) {
		for name, f := range map[string]func() error{
			"nil key": func() error { _, err := EncryptWith(inner, nil, key, iv, nil); return err },
			"short key": func() error {
				_, err := EncryptWith(inner, &bob.PublicKey, key[:16], iv, nil)
				return err
			},
			"short iv": func() error {
				_, err := EncryptWith(inner, &bob.PublicKey, key, iv[:8], nil)
				return err
			},
			"empty doc": func() error { _, err := EncryptWith(nil, &bob.PublicKey, key, iv, nil); return err },
			"oversize": func() error {
				_, err := Encrypt(make([]byte, MaxEnvelopeBytes+1), &bob.PublicKey)
				return err
			},
		} {
			if f() == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	})
}

func TestUnpad(t *testing.T) {
	for p := 0; p <= 20; p++ {
		b := bytes.Repeat([]byte{'x'}, 32)
		for i := 0; i < p && i < 32; i++ {
			b[31-i] = byte(p)
		}
		n, ok := unpad(b)
		wantOK := p >= 1 && p <= 16
		if ok != wantOK || (ok && n != 32-p) {
			t.Errorf("pad %d: n=%d ok=%v", p, n, ok)
		}
	}
	b := bytes.Repeat([]byte{4}, 16)
	b[13] = 3
	if _, ok := unpad(b); ok {
		t.Error("inconsistent padding accepted")
	}
}
