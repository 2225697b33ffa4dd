package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
)

// A received account_migration moves a person: the old identity's row says
// moved_to and no longer shares, the new identity shares as the old one did
// (unless it sent a Contact of its own), the old identity's conversations
// take the new identity's messages, and only the first migration of an
// identity counts — whatever order the ops arrive in.

const (
	mvBob      = "bob@old.example"
	mvBob2     = "bob@new.example"
	mvBob3     = "bob@third.example"
	mvCarol    = "carol@old.example"
	mvCarol2   = "carol@new.example"
	mvBobGUID  = "b0b00000000000000000000000000001"
	mvBob2GUID = "b0b20000000000000000000000000001"
	mvBob3GUID = "b0b30000000000000000000000000001"
	mvCarolID  = "ca401000000000000000000000000001"
	mvCarol2ID = "ca402000000000000000000000000001"
	mvConv     = "c0000000000000000000000000000001"
)

func mvPerson(t testing.TB, guid, handle string) oplog.Body {
	payload, key, err := PersonRecord{GUID: guid, DiasporaID: handle, FirstName: handle[:3]}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(payload)
	return oplog.Received{GUID: key, EntityType: EntityPerson, Author: handle, PayloadHash: hex.EncodeToString(h[:]),
		Payload: string(payload)}
}

// mvMigration is a migration from old to new, sent by old (authorOld) or by
// new. The store does not verify signatures (the engine did).
func mvMigration(t testing.TB, old, new string, authorOld bool) oplog.Body {
	m := &entity.AccountMigration{AuthorID: old, OldIdentityID: old, Signature: "c2lnbmF0dXJl",
		Profile: &entity.Profile{AuthorID: new, FirstName: "New"}, RemotePhotoPath: "https://" + new[strings.Index(new, "@")+1:] + "/uploads/images/"}
	if !authorOld {
		m.AuthorID = new
	}
	return received(t, m, "")
}

func mvOps(t testing.TB) map[string]oplog.Body {
	at := editMin
	return map[string]oplog.Body{
		"bob":         mvPerson(t, mvBobGUID, mvBob),
		"bob contact": received(t, &entity.Contact{AuthorID: mvBob, Recipient: "alice@localhost", Following: true, Sharing: true}, ""),
		"bob photo": received(t, &entity.Photo{AuthorID: mvBob, ID: "f0000000000000000000000000000001", Public: true, CreatedAt: at(1),
			RemotePhotoPath: "https://old.example/uploads/images/", RemotePhotoName: "x.jpg", Width: 10, Height: 10},
			"f0000000000000000000000000000001"),
		"bob2": mvPerson(t, mvBob2GUID, mvBob2),
		"bob3": mvPerson(t, mvBob3GUID, mvBob3),
		"conversation": received(t, &entity.Conversation{AuthorID: mvBob, ID: mvConv, Subject: "hello", CreatedAt: at(1),
			Participants: []string{mvBob, "alice@localhost"},
			Messages: []*entity.Message{{AuthorID: mvBob, ID: "e0000000000000000000000000000001", Text: "first", CreatedAt: at(1),
				ConversationGUID: mvConv}}}, mvConv),
		"bob2 message": received(t, &entity.Message{AuthorID: mvBob2, ID: "e0000000000000000000000000000002", Text: "from my new home",
			CreatedAt: at(2), ConversationGUID: mvConv}, "e0000000000000000000000000000002"),
		"bob3 message": received(t, &entity.Message{AuthorID: mvBob3, ID: "e0000000000000000000000000000003", Text: "not a participant",
			CreatedAt: at(3), ConversationGUID: mvConv}, "e0000000000000000000000000000003"),
		"bob moves":       mvMigration(t, mvBob, mvBob2, true),
		"bob moves again": mvMigration(t, mvBob, mvBob3, false),
		"carol":           mvPerson(t, mvCarolID, mvCarol),
		"carol contact":   received(t, &entity.Contact{AuthorID: mvCarol, Recipient: "alice@localhost", Following: true, Sharing: true}, ""),
		"carol2":          mvPerson(t, mvCarol2ID, mvCarol2),
		// carol's new identity stopped sharing: its own Contact decides.
		"carol2 contact": received(t, &entity.Contact{AuthorID: mvCarol2, Recipient: "alice@localhost", Following: false, Sharing: false}, ""),
		"carol moves":    mvMigration(t, mvCarol, mvCarol2, false),
	}
}

func TestAccountMigration(t *testing.T) {
	base := []string{"bob", "bob contact", "bob photo", "bob2", "bob3", "conversation", "bob2 message", "bob3 message",
		"carol", "carol contact", "carol2", "carol2 contact"}
	moves := []string{"bob moves", "carol moves"}
	cases := []struct {
		name  string
		order []string
		moved bool
	}{
		{"no migration", base, false},
		{"migrations last", append(slices.Clone(base), moves...), true},
		{"migrations first", append(slices.Clone(moves), base...), true},
		{"migrations before the new people", append(append(slices.Clone(base[:2]), moves...), base[2:]...), true},
		{"a second migration of bob is ignored", append(append(slices.Clone(base), moves...), "bob moves again"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ops := mvOps(t)
			db, l := openTestLog(t)
			applyOps(t, l, signOps(t, 0, []oplog.Body{oplog.SetField{Key: "identity/guid", Value: "0123456789abcdef0123456789abcdef"},
				oplog.SetField{Key: "identity/username", Value: "alice"}}))
			for i, name := range c.order {
				b, ok := ops[name]
				if !ok {
					t.Fatalf("no op %q", name)
				}
				applyOps(t, l, signOps(t, i+1, []oplog.Body{b}))
			}
			checkMoves(t, db, c.moved)
			want := projections(t, db)
			for seed := range uint64(3) {
				if err := l.Refold(context.Background(), RefoldOptions{Shuffle: seed + 1}); err != nil {
					t.Fatal(err)
				}
				diffProjections(t, fmt.Sprint("refold ", seed), projections(t, db), want)
			}
		})
	}
	t.Run("the first migration by op stamp holds", func(t *testing.T) {
		t.Parallel()
		ops := mvOps(t)
		db, l := openTestLog(t)
		for i, name := range append(slices.Clone(base), "bob moves again", "bob moves") {
			applyOps(t, l, signOps(t, i, []oplog.Body{ops[name]}))
		}
		to, err := MovedTo(context.Background(), db.R, mvBob)
		if err != nil || to != mvBob3 {
			t.Fatalf("MovedTo(bob) = %q, %v; want %s (its first migration)", to, err, mvBob3)
		}
	})
}

func checkMoves(t *testing.T, db *DB, moved bool) {
	t.Helper()
	ctx := context.Background()
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	m := b2i(moved)
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.R.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	for _, c := range []struct {
		what  string
		query string
		want  int
	}{
		{"bob moved to bob2", "SELECT count(*) FROM people WHERE handle = '" + mvBob + "' AND moved_to = '" + mvBob2 + "'", m},
		{"bob not moved", "SELECT count(*) FROM people WHERE handle = '" + mvBob + "' AND moved_to = ''", 1 - m},
		{"bob shares (until he moves)", "SELECT count(*) FROM people WHERE handle = '" + mvBob + "' AND sharing = 1", 1 - m},
		{"bob2 shares as bob did", "SELECT count(*) FROM people WHERE handle = '" + mvBob2 + "' AND sharing = 1", m},
		{"bob2's contact row", "SELECT count(*) FROM contacts WHERE person_guid = '" + mvBob2GUID + "' AND sharing = 1", m},
		{"bob's contact row", "SELECT count(*) FROM contacts WHERE person_guid = '" + mvBobGUID + "'", 1 - m},
		{"bob3 does not share", "SELECT count(*) FROM people WHERE handle = '" + mvBob3 + "' AND sharing = 1", 0},
		{"bob2's message in bob's conversation", "SELECT count(*) FROM messages WHERE author = '" + mvBob2 + "'", m},
		{"bob3's message refused", "SELECT count(*) FROM messages WHERE author = '" + mvBob3 + "'", 0},
		{"bob's first message stays", "SELECT count(*) FROM messages WHERE author = '" + mvBob + "'", 1},
		{"carol moved", "SELECT count(*) FROM people WHERE handle = '" + mvCarol + "' AND moved_to = '" + mvCarol2 + "'", m},
		{"carol2 does not share (its own Contact)", "SELECT count(*) FROM people WHERE handle = '" + mvCarol2 + "' AND sharing = 1", 0},
		{"nobody closed", "SELECT count(*) FROM people WHERE closed = 1", 0},
		{"bob's photo at his new pod", `SELECT count(*) FROM photos WHERE author = '` + mvBob + `'
			AND json_extract(sizes, '$.raw') = 'https://new.example/uploads/images/x.jpg'`, m},
		{"bob's photo at his old pod", `SELECT count(*) FROM photos WHERE author = '` + mvBob + `'
			AND json_extract(sizes, '$.raw') = 'https://old.example/uploads/images/x.jpg'`, 1 - m},
	} {
		if got := count(c.query); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	to, err := MovedTo(ctx, db.R, "BOB@old.example")
	want := mvBob
	if moved {
		want = mvBob2
	}
	if err != nil || to != want {
		t.Errorf("MovedTo(bob) = %q, %v; want %s", to, err, want)
	}
	if p, ok, err := PersonByHandle(ctx, db.R, mvBob); err != nil || !ok || moved != (p.MovedTo == mvBob2) {
		t.Errorf("PersonByHandle(bob) = %+v, %v, %v", p.MovedTo, ok, err)
	}
}
