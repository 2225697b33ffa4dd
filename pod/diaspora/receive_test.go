package diaspora

import (
	"crypto/rsa"
	"errors"
	"path"
	"strings"
	"testing"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/diaspora/envelope"
	"seedpod/pod/diaspora/keys"
	"seedpod/pod/internal/vectors"
)

// The identities of the vectors (vectors/README.md).
const (
	alice    = "alice@pod-a.example" // 1024-bit upstream spec key
	bob      = "bob@pod-b.example"   // root/post author, private recipient
	aliceNew = "alice@pod-c.example" // the new identity of the migration
	bobPost  = "c3893bf029e7013487753131731751e9"
)

func pub(t testing.TB, name string) *rsa.PublicKey {
	t.Helper()
	k, err := keys.ParsePublic(vectors.Read(t, "keys/"+name+".public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func priv(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	k, err := keys.ParsePrivate(vectors.Read(t, "keys/"+name+".private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func vectorKeys(t testing.TB) Keys {
	return Keys{
		alice:    pub(t, "alice_integration_spec_rsa1024"),
		bob:      pub(t, "bob_generated_rsa2048"),
		aliceNew: pub(t, "alice_new_generated_rsa2048"),
	}
}

// lookup answers with one Related for any type and GUID, or knows nothing.
type lookup struct {
	r     Related
	known bool
}

func (l lookup) Related(string, string) (Related, bool) { return l.r, l.known }

var (
	bobsPublicPost      = lookup{Related{Author: bob, Public: true}, true}
	bobsLocalPublicPost = lookup{Related{Author: bob, Local: true, Public: true}, true}
	bobsPrivatePost     = lookup{Related{Author: bob, Public: false}, true}
)

// Every envelope among the vectors, with the reference's verdict
// (generated/negative/EXPECTED_RESULTS.txt) mapped to our stages.
func TestReceivePublicVectors(t *testing.T) {
	ks := vectorKeys(t)
	cases := []struct {
		file   string
		keys   Keys
		rel    RelatedLookup
		stage  Stage // "" = accepted
		err    error
		typ    string
		sender string
	}{
		{"generated/envelopes/public_status_message.xml", ks, nil, "", nil, "status_message", alice},
		{"generated/envelopes/public_account_deletion.xml", ks, nil, "", nil, "account_deletion", alice},
		{"generated/envelopes/public_profile_base_only.xml", ks, nil, "", nil, "profile", alice},
		{"generated/envelopes/relayed_comment_signed_by_root_author.xml", ks, bobsPublicPost, "", nil, "comment", bob},
		{"generated/envelopes/comment_from_author_to_root_author.xml", ks, bobsLocalPublicPost, "", nil, "comment", alice},
		{"generated/envelopes/comment_from_author_to_root_author.xml", ks, bobsPublicPost, StageReceive, ErrNotAllowed, "", ""},
		{"generated/envelopes/account_migration_author_old.xml", ks, nil, "", nil, "account_migration", alice},
		{"generated/envelopes/account_migration_author_new.xml", ks, nil, "", nil, "account_migration", aliceNew},
		{"generated/legacy_gem_0.2.8/comment_relayed_by_root_author_pod.envelope.xml", ks, bobsPublicPost, "", nil, "comment", bob},
		{"generated/negative/unpadded_base64url_accepted.xml", ks, nil, "", nil, "account_deletion", alice},
		{"generated/negative/tampered_data.xml", ks, nil, StageSignature, envelope.ErrSignature, "", ""},
		{"generated/negative/key_id_mismatch.xml", ks, nil, StageSignature, envelope.ErrSignature, "", ""},
		{"generated/negative/sender_not_author.xml", ks, nil, StageReceive, ErrNotAllowed, "", ""},
		{"generated/negative/private_entity_on_public_route.xml", ks, nil, StageReceive, ErrNotPublic, "", ""},
		{"generated/negative/wrong_data_type.xml", ks, nil, StageEnvelope, envelope.ErrDataType, "", ""},
		{"generated/negative/no_me_prefix.xml", ks, nil, StageEnvelope, envelope.ErrEnvelope, "", ""},
		{"generated/negative/relayable_relayed_by_non_root_author.xml", ks, bobsPublicPost, StageReceive, ErrNotAllowed, "", ""},
		// What the reference does not decide, we do:
		{"generated/envelopes/public_status_message.xml", Keys{}, nil, StageSignature, ErrUnknownSender, "", ""},
		{"generated/envelopes/relayed_comment_signed_by_root_author.xml", ks, NoRelated{}, StageEntity, ErrRelatedUnknown, "", ""},
		{"generated/envelopes/relayed_comment_signed_by_root_author.xml", Keys{bob: ks[bob]}, bobsPublicPost, StageEntity, ErrUnknownSender, "", ""},
		{"generated/envelopes/relayed_comment_signed_by_root_author.xml", ks, bobsPrivatePost, StageReceive, ErrNotPublic, "", ""},
		{"generated/envelopes/account_migration_author_old.xml", Keys{alice: ks[alice]}, nil, StageEntity, ErrUnknownSender, "", ""},
	}
	for _, c := range cases {
		name := path.Base(c.file)
		t.Run(name, func(t *testing.T) {
			r, err := ReceivePublic(vectors.Read(t, c.file), c.keys, c.rel)
			if c.stage == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if r.Entity.Type() != c.typ || r.Sender != c.sender {
					t.Fatalf("got %s from %s, want %s from %s", r.Entity.Type(), r.Sender, c.typ, c.sender)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %s from %s; want a rejection at %s", r.Entity.Type(), r.Sender, c.stage)
			}
			if StageOf(err) != c.stage || !errors.Is(err, c.err) {
				t.Fatalf("err = %v (stage %q), want stage %q wrapping %v", err, StageOf(err), c.stage, c.err)
			}
		})
	}
}

// Bare relayable payloads (the "(parse)" lines of EXPECTED_RESULTS.txt).
func TestVerifyEntityVectors(t *testing.T) {
	ks := vectorKeys(t)
	cases := []struct {
		file string
		ok   bool
	}{
		{"generated/entities/comment.xml", true},
		{"generated/entities/like.xml", true},
		{"generated/entities/poll_participation.xml", true},
		{"generated/entities/event_participation.xml", true},
		{"generated/entities/comment_with_unknown_property.xml", true},
		{"generated/entities/comment_by_root_author.xml", true},
		{"generated/envelopes/relayed_comment.payload.xml", true},
		{"generated/negative/comment_timestamp_offset_signed_normalized.xml", true},
		{"generated/negative/relayed_comment_modified_text.payload.xml", false},
		{"generated/negative/relayed_comment_unknown_element_dropped.payload.xml", false},
		{"generated/negative/comment_reordered.xml", false},
		{"generated/negative/comment_timestamp_offset_signed_raw.xml", false},
		{"generated/negative/account_migration_signed_by_wrong_identity.xml", false},
		{"generated/entities/account_migration_author_old.xml", true},
		{"generated/entities/account_migration_author_new.xml", true},
	}
	for _, c := range cases {
		t.Run(path.Base(c.file), func(t *testing.T) {
			_, err := VerifyEntity(vectors.Read(t, c.file), ks, bobsPublicPost)
			if c.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !c.ok && (StageOf(err) != StageEntity || !errors.Is(err, entity.ErrSignature)) {
				t.Fatalf("err = %v, want a signature failure at the entity stage", err)
			}
		})
	}
}

func TestReceivePrivateVectors(t *testing.T) {
	ks := vectorKeys(t)
	bobKey := priv(t, "bob_generated_rsa2048")
	for _, c := range []struct {
		file string
		typ  string
	}{
		{"generated/envelopes/private_status_message.encrypted.json", "status_message"},
		{"generated/envelopes/private_message.encrypted.json", "message"},
	} {
		t.Run(path.Base(c.file), func(t *testing.T) {
			body := vectors.Read(t, c.file)
			r, err := ReceivePrivate(body, bobKey, bob, ks, bobsPublicPost)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if r.Entity.Type() != c.typ || r.Sender != alice {
				t.Fatalf("got %s from %s", r.Entity.Type(), r.Sender)
			}
			// Someone else's key cannot open it.
			_, err = ReceivePrivate(body, priv(t, "alice_new_generated_rsa2048"), bob, ks, nil)
			if StageOf(err) != StageDecrypt {
				t.Fatalf("wrong key: err = %v, want the decrypt stage", err)
			}
		})
	}
	// A private envelope is still checked: the private status message does
	// not pass the public route.
	inner := vectors.Read(t, "generated/envelopes/private_status_message.inner_envelope.xml")
	if _, err := ReceivePublic(inner, ks, nil); StageOf(err) != StageReceive {
		t.Fatalf("private status message on the public route: %v", err)
	}
}

func TestStageOf(t *testing.T) {
	if StageOf(errors.New("x")) != "" || StageOf(nil) != "" {
		t.Error("StageOf of a plain error should be empty")
	}
	err := reject(StageEntity, entity.ErrInvalid)
	if StageOf(err) != StageEntity || !errors.Is(err, entity.ErrInvalid) || !strings.HasPrefix(err.Error(), "entity: ") {
		t.Errorf("reject: %v", err)
	}
}
