package diaspora

import (
	"errors"
	"strings"
	"testing"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/internal/vectors"
)

// The sender and related-entity rules (PROTOCOL.md §3.3 step 7, §7.4) where
// the vectors have no case: each entity is signed with fresh keys by the
// sender the case names, and received against what the case says this pod
// knows.
func TestSenderAndRelatedRules(t *testing.T) {
	ks := freshKeys(t, 2048)
	pubs := Keys{}
	for who, k := range ks {
		pubs[who] = &k.PublicKey
	}
	const carol = "carol@pod-d.example" // knows nobody's key, signs nothing valid
	likeOnComment := func(t *testing.T) []byte {
		l := &entity.Like{AuthorID: alice, ID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", Parent: "5c241a3029f8013487763131731751e9",
			ParentTypeName: "Comment", Positive: true}
		b, err := entity.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		if b, err = entity.SignRelayable(b, ks[alice]); err != nil {
			t.Fatal(err)
		}
		return b
	}
	file := func(name string) func(*testing.T) []byte {
		return func(t *testing.T) []byte { return vectors.Read(t, "generated/entities/"+name+".xml") }
	}
	migration := func(t *testing.T) []byte {
		e, err := entity.Parse(vectors.Read(t, "generated/entities/account_migration_author_old.xml"))
		if err != nil {
			t.Fatal(err)
		}
		m := e.(*entity.AccountMigration)
		if err := m.Sign(ks[m.SignerID()]); err != nil {
			t.Fatal(err)
		}
		b, err := entity.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name    string
		payload func(*testing.T) []byte
		sender  string
		rel     RelatedLookup
		stage   Stage
		err     error
	}{
		{"retraction of a post by its author", file("retraction_post"), alice,
			lookup{Related{Author: alice, Public: true}, true}, "", nil},
		{"retraction of someone else's post", file("retraction_post"), alice,
			lookup{Related{Author: bob, Public: true}, true}, StageReceive, ErrNotAllowed},
		{"retraction of a post by the root author of nothing", file("retraction_post"), bob,
			lookup{Related{Author: alice, RootAuthor: bob, Public: true}, true}, StageReceive, ErrNotAllowed},
		{"retraction of an unknown target", file("retraction_post"), alice, NoRelated{}, StageEntity, ErrRelatedUnknown},
		{"retraction of a comment by its author", file("retraction_comment"), alice,
			lookup{Related{Author: alice, RootAuthor: bob, Public: true}, true}, "", nil},
		{"retraction of a comment by the post's author (moderation)", file("retraction_comment"), bob,
			lookup{Related{Author: alice, RootAuthor: bob, Public: true}, true}, "", nil},
		{"retraction of a comment by a third party", file("retraction_comment"), aliceNew,
			lookup{Related{Author: alice, RootAuthor: bob, Public: true}, true}, StageReceive, ErrNotAllowed},
		{"reshare of a public post", file("reshare"), alice, lookup{Related{Author: bob, Public: true}, true}, "", nil},
		{"reshare naming the wrong root author", file("reshare"), alice,
			lookup{Related{Author: aliceNew, Public: true}, true}, StageEntity, entity.ErrInvalid},
		{"reshare of a private post", file("reshare"), alice,
			lookup{Related{Author: bob, Public: false}, true}, StageEntity, entity.ErrInvalid},
		{"reshare of an unknown post", file("reshare"), alice, NoRelated{}, StageEntity, ErrRelatedUnknown},
		{"reshare sent by someone else", file("reshare"), bob,
			lookup{Related{Author: bob, Public: true}, true}, StageReceive, ErrNotAllowed},
		{"participation in a local post", file("participation"), alice,
			lookup{Related{Author: bob, Local: true, Public: true}, true}, "", nil},
		{"participation in a remote post", file("participation"), alice,
			lookup{Related{Author: bob, Public: true}, true}, StageEntity, ErrNotLocal},
		{"like on a comment, relayed by the post's author", likeOnComment, bob,
			lookup{Related{Author: aliceNew, RootAuthor: bob, Public: true}, true}, "", nil},
		{"like on a comment, relayed by the comment's author", likeOnComment, aliceNew,
			lookup{Related{Author: aliceNew, RootAuthor: bob, Public: true}, true}, StageReceive, ErrNotAllowed},
		{"like on a comment, sent by its author to the root's pod", likeOnComment, alice,
			lookup{Related{Author: aliceNew, RootAuthor: bob, Local: true, Public: true}, true}, "", nil},
		{"account migration sent by its author", migration, alice, nil, "", nil},
		{"account migration sent by the other identity", migration, aliceNew, nil, StageReceive, ErrNotAllowed},
		{"sender without a known key", file("retraction_post"), carol,
			lookup{Related{Author: alice}, true}, StageSignature, ErrUnknownSender},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := ks[c.sender]
			if key == nil {
				key = ks[bob] // carol signs with a key nobody has for her
			}
			doc, err := envelope.Sign(c.payload(t), c.sender, key)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ReceivePublic(doc, pubs, c.rel)
			if c.stage == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if StageOf(err) != c.stage || !errors.Is(err, c.err) {
				t.Fatalf("err = %v (stage %q), want stage %q wrapping %v", err, StageOf(err), c.stage, c.err)
			}
		})
	}
}

func TestReceivePrivateNeedsRecipient(t *testing.T) {
	body := vectors.Read(t, "generated/envelopes/private_message.encrypted.json")
	_, err := ReceivePrivate(body, priv(t, "bob_generated_rsa2048"), "", vectorKeys(t), nil)
	if err == nil || !strings.Contains(err.Error(), "no recipient") {
		t.Fatalf("empty recipient: %v", err)
	}
}
