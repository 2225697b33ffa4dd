package discovery

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
)

func TestHCardVectors(t *testing.T) {
	for _, tc := range []struct {
		file, keyFile, host string
		nickname            string
		regenerate          bool
	}{
		{"generated/discovery/hcard.html", "keys/alice_integration_spec_rsa1024.public.pem", "https://pod-a.example/uploads", "alice", true},
		{"upstream_docs/hcard_example.html", "keys/docs_hcard_example_alice_rsa4096.public.pem", "https://example.org", "", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			doc := vectors.Read(t, tc.file)
			h, err := ParseHCard(doc)
			if err != nil {
				t.Fatal(err)
			}
			wantKey, err := keys.ParsePublic(vectors.Read(t, tc.keyFile))
			if err != nil {
				t.Fatal(err)
			}
			if !h.PublicKey.Equal(wantKey) {
				t.Fatal("public key differs from", tc.keyFile)
			}
			if got, want := strings.TrimSpace(h.PublicKeyPEM), strings.TrimSpace(string(vectors.Read(t, tc.keyFile))); got != want {
				t.Fatalf("PEM %q, want %q", got, want)
			}
			img := "/images/thumb_%s_a795f872c93309597345.jpg"
			want := HCard{
				GUID: aliceGUID, Nickname: tc.nickname, FullName: "Alice Smith", FirstName: "Alice", LastName: "Smith",
				Searchable:  true,
				PhotoLarge:  tc.host + strings.Replace(img, "%s", "large", 1),
				PhotoMedium: tc.host + strings.Replace(img, "%s", "medium", 1),
				PhotoSmall:  tc.host + strings.Replace(img, "%s", "small", 1),
			}
			got := *h
			got.PublicKey, got.PublicKeyPEM = nil, ""
			if got != want {
				t.Fatalf("parsed %+v\nwant %+v", got, want)
			}
			out, err := h.HTML()
			if err != nil {
				t.Fatal(err)
			}
			if tc.regenerate && !bytes.Equal(out, doc) {
				t.Fatalf("regenerated hCard differs:\n%s\nwant\n%s", out, doc)
			}
			// From the key alone (MarshalPublic) gives the same bytes.
			k := *h
			k.PublicKeyPEM = ""
			out2, err := k.HTML()
			if err != nil || !bytes.Equal(out, out2) {
				t.Fatalf("HTML from PublicKey differs (%v)", err)
			}
			again, err := ParseHCard(out)
			if err != nil || again.GUID != h.GUID || again.PhotoSmall != h.PhotoSmall {
				t.Fatalf("regenerated hCard does not parse back: %+v, %v", again, err)
			}
		})
	}
}

func TestParseHCardRejects(t *testing.T) {
	good := string(vectors.Read(t, "generated/discovery/hcard.html"))
	rep := func(old, new string) []byte {
		if !strings.Contains(good, old) {
			t.Fatalf("vector lacks %q", old)
		}
		return []byte(strings.Replace(good, old, new, 1))
	}
	const keyLine = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCxTbMp+M5sCUDVi9k1wMxedSwy"
	for _, tc := range []struct {
		name string
		doc  []byte
		want error
	}{
		{"bad guid", rep(aliceGUID+"</span>", "x</span>"), ErrInvalid},
		{"no uid", rep(`class="uid"`, `class="uuid"`), ErrInvalid},
		{"no fn", rep(`class="fn"`, `class="name"`), ErrInvalid},
		{"fn semicolon", rep(">Alice Smith</span>", ">Alice;Smith</span>"), ErrInvalid},
		{"fn too long", rep(">Alice Smith</span>", ">"+strings.Repeat("a", 71)+"</span>"), ErrInvalid},
		{"given too long", rep(">Alice</span>", ">"+strings.Repeat("a", 33)+"</span>"), ErrInvalid},
		{"no key", rep(`class="key"`, `class="k"`), ErrInvalid},
		{"corrupt key", rep(keyLine, strings.Replace(keyLine, "MIGf", "AAAA", 1)), ErrInvalid},
		{"private key marker", rep("BEGIN PUBLIC KEY", "BEGIN PRIVATE KEY"), ErrInvalid},
		{"two key blocks", rep("-----END PUBLIC KEY-----\n", "-----END PUBLIC KEY-----\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), ErrInvalid},
		{"no medium photo", rep(`class="entity_photo_medium"`, `class="entity_photo_m"`), ErrInvalid},
		{"no large photo", rep(`<dl class="entity_photo">`, `<dl class="entity_foto">`), ErrInvalid},
		{"photo javascript", rep(`src="https://pod-a.example/uploads/images/thumb_large`, `src="javascript:alert(1)//`), ErrInvalid},
		{"photo protocol-relative", rep(`src="https://pod-a.example/uploads/images/thumb_small`, `src="//evil.example/x`), ErrInvalid},
		{"not utf-8", rep("Alice Smith</span>", "Alice \xff</span>"), ErrMalformed},
		{"too many tags", []byte(strings.Repeat("<b>", maxHTMLTags+1)), ErrMalformed},
		// N formatting elements reopened by M paragraphs build N×M nodes.
		{"formatting-element blow-up", formattingBomb(), ErrMalformed},
		{"garbage", []byte("\x00\x01 not html at all"), ErrInvalid},
		{"oversize", []byte(good + strings.Repeat(" ", MaxDocSize)), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseHCard(tc.doc)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseHCard = %+v, %v; want %v", h, err, tc.want)
			}
		})
	}
}

func TestHCardLenient(t *testing.T) {
	// Relative avatar (diaspora's default), no nickname, searchable other
	// than "true", selectors nested differently, PKCS#1 key.
	k, err := keys.ParsePublic(vectors.Read(t, "keys/bob_generated_rsa2048.public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := "-----BEGIN RSA PUBLIC KEY-----\n" + pkcs1Body(t, k) + "-----END RSA PUBLIC KEY-----"
	doc := `<html><body><p class="vcard"><b class="x uid y"> ` + aliceGUID + ` </b>
	<i class="fn">Bob</i><span class="searchable">yes</span><pre class="key">` + pkcs1 + `</pre>
	<div class="entity_photo"><div><img class="photo" src="/assets/user/default.png"></div></div>
	<div class="entity_photo_medium"><img class="photo" src="/assets/user/default.png"></div>
	<div class="entity_photo_small"><img class="photo"><img class="avatar photo" src="https://b.example/s.png"></div></body>`
	h, err := ParseHCard([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if h.GUID != aliceGUID || h.FullName != "Bob" || h.Searchable || h.PhotoLarge != "/assets/user/default.png" ||
		h.PhotoSmall != "https://b.example/s.png" || !h.PublicKey.Equal(k) || h.Nickname != "" {
		t.Fatalf("parsed %+v", h)
	}
	if _, err := h.HTML(); err != nil {
		t.Fatal(err)
	}
}

// formattingBomb is the reviewer's input that cost 4.5 s and 1.8 GB in
// html.Parse: 450 distinct <b> elements, then 3500 paragraphs of text.
func formattingBomb() []byte {
	var b strings.Builder
	b.WriteString("<p>")
	for i := range 450 {
		fmt.Fprintf(&b, "<b a=%d c d e f g h i j k l m n o p q r s t>", i)
	}
	b.WriteString(strings.Repeat("<p>x", 3500))
	return []byte(b.String())
}
