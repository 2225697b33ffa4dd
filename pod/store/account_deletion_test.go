package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
)

// A received account_deletion closes its author's account: their people
// row says closed and not sharing, and their posts, reshares, comments,
// likes, poll votes and photos leave the domain tables, whatever order
// the ops arrive in; another person's entities and the conversations stay.

const (
	delBob      = "bob@pod.example" // closes his account
	delCarol    = "carol@pod.example"
	delBobGUID  = "b0b00000000000000000000000000001"
	delCarolID  = "ca401000000000000000000000000001"
	delMyPost   = "a11ce000000000000000000000000001"
	delBobPost  = "b0b0e000000000000000000000000001"
	delCarolPst = "ca401e00000000000000000000000001"
	delBobPhoto = "b0b0f000000000000000000000000001"
	delBobConv  = "b0b0c000000000000000000000000001"
)

// delOps are the named ops of the account deletion test.
func delOps(t testing.TB) map[string]oplog.Body {
	person := func(guid, handle string) oplog.Body {
		payload, key, err := PersonRecord{GUID: guid, DiasporaID: handle, FirstName: handle[:3]}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(payload)
		return oplog.Received{GUID: key, EntityType: EntityPerson, Author: handle, PayloadHash: hex.EncodeToString(h[:]),
			Payload: string(payload)}
	}
	myPost, _ := json.Marshal(map[string]any{"text": "my post", "public": true, "aspect_ids": []int{}, "photos": []string{},
		"poll": map[string]any{"guid": "90110000000000000000000000000001", "question": "tea?",
			"answers": []map[string]any{{"id": 1, "answer": "yes"}, {"id": 2, "answer": "no"}}}})
	at := editMin
	return map[string]oplog.Body{
		"my post": oplog.Publish{GUID: delMyPost, Kind: KindPost, CreatedAt: at(1).UnixMilli(), Body: myPost},
		"aspect":  oplog.AspectAdd{Aspect: "1", Member: delBobGUID},
		// bob's
		"bob person":  person(delBobGUID, delBob),
		"bob contact": received(t, &entity.Contact{AuthorID: delBob, Recipient: "alice@localhost", Following: true, Sharing: true}, ""),
		"bob post": received(t, &entity.StatusMessage{AuthorID: delBob, ID: delBobPost, CreatedAt: at(2), Public: true,
			Text: "bob's post #garden hi @{Alice; alice@localhost}"}, delBobPost),
		"bob edit": received(t, &entity.StatusMessage{AuthorID: delBob, ID: delBobPost, CreatedAt: at(2), EditedAt: at(3),
			Public: true, Text: "bob's edited post #garden hi @{Alice; alice@localhost}"}, ReceivedEditKey(delBobPost, at(3).UnixMilli())),
		"bob photo": received(t, &entity.Photo{AuthorID: delBob, ID: delBobPhoto, Public: true, CreatedAt: at(2),
			RemotePhotoPath: "https://pod.example/uploads/images/", RemotePhotoName: "x.jpg", StatusMessageGUID: delBobPost,
			Width: 10, Height: 10}, delBobPhoto),
		"bob reshare": received(t, &entity.Reshare{AuthorID: delBob, ID: "b0b0a000000000000000000000000001", CreatedAt: at(4),
			RootAuthorID: "alice@localhost", RootID: delMyPost}, "b0b0a000000000000000000000000001"),
		"bob comment": received(t, &entity.Comment{AuthorID: delBob, ID: "b0b0c0e0000000000000000000000001", Parent: delMyPost,
			Text: "bob's comment", CreatedAt: at(5)}, "b0b0c0e0000000000000000000000001"),
		"bob like": received(t, &entity.Like{AuthorID: delBob, ID: "b0b01000000000000000000000000001", Parent: delMyPost,
			ParentTypeName: "Post", Positive: true}, "b0b01000000000000000000000000001"),
		"bob vote": received(t, &entity.PollParticipation{AuthorID: delBob, ID: "b0b0d000000000000000000000000001",
			Parent: "90110000000000000000000000000001", PollAnswerGUID: "a0500000000000000000000000000001"}, "b0b0d000000000000000000000000001"),
		"bob conversation": received(t, &entity.Conversation{AuthorID: delBob, ID: delBobConv, Subject: "hello", CreatedAt: at(6),
			Participants: []string{delBob, "alice@localhost"},
			Messages: []*entity.Message{{AuthorID: delBob, ID: "b0b0e5e0000000000000000000000001", Text: "first", CreatedAt: at(6),
				ConversationGUID: delBobConv}}}, delBobConv),
		"bob deletion": received(t, &entity.AccountDeletion{AuthorID: delBob}, ""),
		// carol's
		"carol person":  person(delCarolID, delCarol),
		"carol contact": received(t, &entity.Contact{AuthorID: delCarol, Recipient: "alice@localhost", Following: true, Sharing: true}, ""),
		"carol post": received(t, &entity.StatusMessage{AuthorID: delCarol, ID: delCarolPst, CreatedAt: at(2), Public: true,
			Text: "carol's post"}, delCarolPst),
		"carol comment": received(t, &entity.Comment{AuthorID: delCarol, ID: "ca401c0e000000000000000000000001", Parent: delMyPost,
			Text: "carol's comment", CreatedAt: at(7)}, "ca401c0e000000000000000000000001"),
		"carol like": received(t, &entity.Like{AuthorID: delCarol, ID: "ca401100000000000000000000000001", Parent: delMyPost,
			ParentTypeName: "Post", Positive: true}, "ca401100000000000000000000000001"),
	}
}

func TestAccountDeletion(t *testing.T) {
	entities := []string{"my post", "aspect", "bob person", "bob contact", "bob post", "bob edit", "bob photo", "bob reshare",
		"bob comment", "bob like", "bob vote", "bob conversation", "carol person", "carol contact", "carol post",
		"carol comment", "carol like"}
	for _, c := range []struct {
		name    string
		order   []string
		deleted bool
	}{
		{"no deletion", entities, false},
		{"deletion after everything", append(append([]string{}, entities...), "bob deletion"), true},
		{"deletion before everything", append([]string{"bob deletion"}, entities...), true},
		{"deletion before the person, after the posts", append(append(append([]string{}, entities[4:]...), "bob deletion"),
			entities[:4]...), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ops := delOps(t)
			db, l := openTestLog(t)
			applyOps(t, l, signOps(t, 0, []oplog.Body{oplog.SetField{Key: "identity/guid", Value: "0123456789abcdef0123456789abcdef"},
				oplog.SetField{Key: "identity/username", Value: "alice"}, oplog.SetField{Key: "aspect/1/name", Value: "Family"}}))
			for i, name := range c.order {
				b, ok := ops[name]
				if !ok {
					t.Fatalf("no op %q", name)
				}
				applyOps(t, l, signOps(t, i+1, []oplog.Body{b}))
			}
			checkAccountDeletion(t, db, c.deleted)
			checkFTS(t, "given order", db)
			want := projections(t, db)
			for seed := range uint64(3) {
				if err := l.Refold(context.Background(), RefoldOptions{Shuffle: seed + 1}); err != nil {
					t.Fatal(err)
				}
				diffProjections(t, fmt.Sprint("refold ", seed), projections(t, db), want)
			}
		})
	}
}

func checkAccountDeletion(t *testing.T, db *DB, deleted bool) {
	t.Helper()
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.R.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	gone := 1 - b2i(deleted) // bob's rows: 1 each unless deleted
	for _, c := range []struct {
		what  string
		query string
		want  int
	}{
		{"bob's people row", "SELECT count(*) FROM people WHERE handle = ?1", 1},
		{"bob closed", "SELECT count(*) FROM people WHERE handle = ?1 AND closed = 1", b2i(deleted)},
		{"bob sharing", "SELECT count(*) FROM people WHERE handle = ?1 AND sharing = 1", gone},
		{"bob's contact row (in an aspect)", "SELECT count(*) FROM contacts WHERE person_guid = '" + delBobGUID + "' AND receiving = 1", 1},
		{"bob's contact sharing", "SELECT count(*) FROM contacts WHERE person_guid = '" + delBobGUID + "' AND sharing = 1", gone},
		{"bob's posts and reshares", "SELECT count(*) FROM posts WHERE author = ?1", 2 * gone},
		{"bob's post versions", "SELECT count(*) FROM post_versions WHERE post_guid = '" + delBobPost + "'", 2 * gone},
		{"bob's post tags", "SELECT count(*) FROM post_tags WHERE tag = 'garden'", gone},
		{"bob's photos", "SELECT count(*) FROM photos WHERE author = ?1", gone},
		{"bob's comments", "SELECT count(*) FROM comments WHERE author = ?1", gone},
		{"bob's likes", "SELECT count(*) FROM likes WHERE author = ?1", gone},
		{"bob's poll votes", "SELECT count(*) FROM poll_votes WHERE author = ?1", gone},
		{"notifications naming bob", "SELECT count(*) FROM notifications WHERE instr(actors, ?1) > 0", 5 * gone},
		{"bob's conversation stays", "SELECT count(*) FROM conversations WHERE guid = '" + delBobConv + "'", 1},
		{"bob's message stays", "SELECT count(*) FROM messages WHERE conversation_guid = '" + delBobConv + "'", 1},
		// the user's post with bob's comment stays
		{"my post", "SELECT count(*) FROM posts WHERE guid = '" + delMyPost + "' AND own = 1", 1},
		// carol is unaffected
		{"carol open and sharing", "SELECT count(*) FROM people WHERE handle = ?2 AND closed = 0 AND sharing = 1", 1},
		{"carol's post", "SELECT count(*) FROM posts WHERE author = ?2", 1},
		{"carol's comment", "SELECT count(*) FROM comments WHERE author = ?2", 1},
		{"carol's like", "SELECT count(*) FROM likes WHERE author = ?2", 1},
		{"notifications naming carol", "SELECT count(*) FROM notifications WHERE instr(actors, ?2) > 0", 3},
	} {
		if got := count(c.query, delBob, delCarol); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	if t.Failed() {
		rows, _ := db.DumpProjection(context.Background(), "notifications")
		t.Logf("notifications: %q", rows)
	}
}
