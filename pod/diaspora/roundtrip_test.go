package diaspora

import (
	"bytes"
	"crypto/rsa"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
)

var genOnce sync.Map // bits → map[string]*rsa.PrivateKey

// freshKeys generates keys of the given size for the three vector
// identities, once per test binary.
func freshKeys(t *testing.T, bits int) map[string]*rsa.PrivateKey {
	t.Helper()
	if v, ok := genOnce.Load(bits); ok {
		return v.(map[string]*rsa.PrivateKey)
	}
	m := map[string]*rsa.PrivateKey{}
	for _, who := range []string{alice, bob, aliceNew} {
		k, err := keys.Generate(bits)
		if err != nil {
			t.Fatal(err)
		}
		m[who] = k
	}
	genOnce.Store(bits, m)
	return m
}

// related answers what a receiver would know for each kind of entity in
// the round trip: bob's public post as the parent of relayables and the
// root of reshares, the author's own target for retractions.
type related struct{ e entity.Entity }

func (r related) Related(typ, guid string) (Related, bool) {
	switch v := r.e.(type) {
	case *entity.Retraction:
		return Related{Author: v.Author(), Public: true}, true
	case *entity.Reshare:
		return Related{Author: v.RootAuthor(), Public: true}, true
	case *entity.Participation:
		return Related{Author: bob, Local: true, Public: true}, true
	}
	return Related{Author: bob, Public: true}, true
}

// Every entity type: our relayable and migration signatures, our signed
// envelope and our encrypted envelope are accepted by our receiver, with
// 2048- and 4096-bit keys, and the entity arrives byte for byte.
func TestRoundTripEveryEntity(t *testing.T) {
	sizes := []int{2048, 4096}
	if testing.Short() {
		sizes = sizes[:1]
	}
	files := vectors.Glob(t, "generated/entities/*.xml")
	seen := map[string]bool{}
	for _, bits := range sizes {
		ks := freshKeys(t, bits)
		pubs := Keys{}
		for who, k := range ks {
			pubs[who] = &k.PublicKey
		}
		for _, f := range files {
			payload := vectors.Read(t, f)
			e, err := entity.Parse(payload)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if e.Author() == "" {
				continue // nested-only parts (location, poll, …) travel inside a status message
			}
			seen[e.Type()] = true
			t.Run(path.Base(f)+"/"+strconv.Itoa(bits), func(t *testing.T) {
				sender := e.Author()
				switch v := e.(type) {
				case entity.Relayable:
					if v.Author() != bob {
						if payload, err = entity.SignRelayable(payload, ks[v.Author()]); err != nil {
							t.Fatal(err)
						}
					}
					sender = bob // the root author relays
				case *entity.AccountMigration:
					if err := v.Sign(ks[v.SignerID()]); err != nil {
						t.Fatal(err)
					}
					if payload, err = entity.Marshal(v); err != nil {
						t.Fatal(err)
					}
				}
				doc, err := envelope.Sign(payload, sender, ks[sender])
				if err != nil {
					t.Fatal(err)
				}
				e2, _ := entity.Parse(payload)
				rel := related{e2}

				r, err := ReceivePublic(doc, pubs, rel)
				public := !slices.Contains(privateOnly, e.Type()) && entity.AcceptableOnPublicRoute(e)
				switch {
				case public && err != nil:
					t.Fatalf("public route refused our own envelope: %v", err)
				case !public && StageOf(err) != StageReceive:
					t.Fatalf("public route: err = %v, want a refusal at the receive stage", err)
				case public && !bytes.Equal(r.Payload, payload):
					t.Fatal("payload changed on the way")
				}

				recipient := aliceNew
				if sender == aliceNew {
					recipient = bob
				}
				body, err := envelope.Encrypt(doc, &ks[recipient].PublicKey)
				if err != nil {
					t.Fatal(err)
				}
				r, err = ReceivePrivateUnbound(body, ks[recipient], pubs, rel)
				if err != nil {
					t.Fatalf("private route refused our own envelope: %v", err)
				}
				if r.Sender != sender || r.Entity.Type() != e.Type() || !bytes.Equal(r.Payload, payload) {
					t.Fatalf("private route: got %s from %s", r.Entity.Type(), r.Sender)
				}
				again, err := entity.Marshal(r.Entity)
				if err != nil || !bytes.Equal(bytes.TrimSpace(again), bytes.TrimSpace(payload)) {
					t.Fatalf("received entity re-encodes differently (%v):\n%s\nwant\n%s", err, again, payload)
				}
			})
		}
	}
	want := []string{"status_message", "photo", "profile", "comment", "like", "poll_participation",
		"event_participation", "reshare", "retraction", "contact", "conversation", "message",
		"participation", "account_deletion", "account_migration"}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no round trip for %s", w)
		}
	}
}

// A private delivery is bound to its recipient: a Contact or Conversation
// delivered to someone it does not name is refused.
func TestRecipientBinding(t *testing.T) {
	ks := vectorKeys(t)
	alicePriv := priv(t, "alice_integration_spec_rsa1024")
	bobPriv := priv(t, "bob_generated_rsa2048")
	for _, f := range []string{"generated/entities/contact.xml", "generated/entities/conversation.xml"} {
		payload := vectors.Read(t, f)
		e, err := entity.Parse(payload)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := envelope.Sign(payload, e.Author(), alicePriv)
		if err != nil {
			t.Fatal(err)
		}
		body, err := envelope.Encrypt(doc, &bobPriv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ReceivePrivate(body, bobPriv, bob, ks, nil); err != nil {
			t.Errorf("%s to bob: %v", f, err)
		}
		_, err = ReceivePrivate(body, bobPriv, "carol@pod-d.example", ks, nil)
		if StageOf(err) != StageReceive || !strings.Contains(err.Error(), "carol@pod-d.example") {
			t.Errorf("%s delivered to carol: err = %v, want a receive-stage refusal", f, err)
		}
	}
}
