package store

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"testing"
	"time"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
)

// Received edits of posts: a status_message recorded under
// ReceivedEditKey(guid, edited_at) next to the original under the guid.

func TestReceivedEditKey(t *testing.T) {
	for _, c := range []struct {
		key  string
		post string
		at   int64
		ok   bool
	}{
		{ReceivedEditKey("abcdef0123456789", 1700000000000), "abcdef0123456789", 1700000000000, true},
		{"abcdef0123456789#1700000000000", "abcdef0123456789", 1700000000000, true},
		{"abcdef0123456789#0", "abcdef0123456789", 0, true},
		{"abcdef0123456789", "", 0, false},
		{"abcdef0123456789#", "", 0, false},
		{"abcdef0123456789#017", "", 0, false}, // not the canonical form: another key for the same time
		{"abcdef0123456789#+17", "", 0, false},
		{"abcdef0123456789#-17", "", 0, false},
		{"abcdef0123456789#1.5", "", 0, false},
		{"abcdef0123456789#12#3", "", 0, false},
		{"abcdef0123456789#99999999999999999999", "", 0, false},
		{"abcdef0123456789:edit:17", "", 0, false},
		{"#17", "", 0, false},
	} {
		post, at, ok := SplitReceivedEditKey(c.key)
		if post != c.post || at != c.at || ok != c.ok {
			t.Errorf("SplitReceivedEditKey(%q) = %q, %d, %v; want %q, %d, %v", c.key, post, at, ok, c.post, c.at, c.ok)
		}
	}
}

const (
	editGUID   = "edit0000aaaa1111bbbb2222cccc3333"
	editAuthor = "bob@pod.example"
)

var editBase = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// editMin is the time m minutes after editBase.
func editMin(m int) time.Time { return editBase.Add(time.Duration(m) * time.Minute) }

// statusOp is a received status message of editGUID by author: the
// original (edited zero) under the guid, an edit under its key.
func statusOp(t testing.TB, author string, created, edited time.Time, public bool, text string) oplog.Body {
	m := &entity.StatusMessage{AuthorID: author, ID: editGUID, CreatedAt: created, EditedAt: edited, Public: public, Text: text}
	key := editGUID
	if !edited.IsZero() {
		key = ReceivedEditKey(editGUID, edited.UnixMilli())
	}
	return received(t, m, key)
}

func TestReceivedPostEdits(t *testing.T) {
	orig := func(t testing.TB) oplog.Body {
		return statusOp(t, editAuthor, editMin(0), time.Time{}, true, "original words")
	}
	edit := func(n int, public bool) func(t testing.TB) oplog.Body {
		return func(t testing.TB) oplog.Body {
			return statusOp(t, editAuthor, editMin(0), editMin(n), public, fmt.Sprintf("edited words%d", n))
		}
	}
	key := func(n int) string { return ReceivedEditKey(editGUID, editMin(n).UnixMilli()) }
	type want struct {
		exists   bool
		text     string
		public   bool
		created  time.Time
		edited   time.Time // zero: not edited
		versions []string  // sources, oldest first
		location string    // the location's address, "" none
		mentions bool      // a mentioned notification for me
	}
	for _, c := range []struct {
		name string
		ops  []func(t testing.TB) oplog.Body
		want want
	}{
		{"original only", []func(testing.TB) oplog.Body{orig},
			want{exists: true, text: "original words", public: true, created: editMin(0), versions: []string{editGUID}}},
		{"edit after original", []func(testing.TB) oplog.Body{orig, edit(5, true)},
			want{exists: true, text: "edited words5", public: true, created: editMin(0), edited: editMin(5),
				versions: []string{editGUID, key(5)}}},
		{"edit before original", []func(testing.TB) oplog.Body{edit(5, true), orig},
			want{exists: true, text: "edited words5", public: true, created: editMin(0), edited: editMin(5),
				versions: []string{editGUID, key(5)}}},
		{"edit alone shows as the post", []func(testing.TB) oplog.Body{edit(5, true)},
			want{exists: true, text: "edited words5", public: true, created: editMin(0), edited: editMin(5),
				versions: []string{key(5)}}},
		{"two edits in order", []func(testing.TB) oplog.Body{orig, edit(5, true), edit(9, true)},
			want{exists: true, text: "edited words9", public: true, created: editMin(0), edited: editMin(9),
				versions: []string{editGUID, key(5), key(9)}}},
		{"two edits out of order", []func(testing.TB) oplog.Body{edit(9, true), orig, edit(5, true)},
			want{exists: true, text: "edited words9", public: true, created: editMin(0), edited: editMin(9),
				versions: []string{editGUID, key(5), key(9)}}},
		{"edit by another author refused", []func(testing.TB) oplog.Body{orig, func(t testing.TB) oplog.Body {
			return statusOp(t, "mallory@evil.example", editMin(0), editMin(5), true, "hijacked words")
		}}, want{exists: true, text: "original words", public: true, created: editMin(0), versions: []string{editGUID}}},
		{"edit by another author before the original refused", []func(testing.TB) oplog.Body{func(t testing.TB) oplog.Body {
			return statusOp(t, "mallory@evil.example", editMin(0), editMin(5), true, "hijacked words")
		}, orig}, want{exists: true, text: "original words", public: true, created: editMin(0), versions: []string{editGUID}}},
		{"author compared case-insensitively", []func(testing.TB) oplog.Body{orig, func(t testing.TB) oplog.Body {
			r := statusOp(t, editAuthor, editMin(0), editMin(5), true, "edited words5").(oplog.Received)
			r.Author = "Bob@Pod.Example"
			return r
		}}, want{exists: true, text: "edited words5", public: true, created: editMin(0), edited: editMin(5),
			versions: []string{editGUID, key(5)}}},
		{"key time not the edited_at refused", []func(testing.TB) oplog.Body{orig, func(t testing.TB) oplog.Body {
			m := &entity.StatusMessage{AuthorID: editAuthor, ID: editGUID, CreatedAt: editMin(0), EditedAt: editMin(5),
				Public: true, Text: "mismatched words"}
			return received(t, m, key(6))
		}}, want{exists: true, text: "original words", public: true, created: editMin(0), versions: []string{editGUID}}},
		{"edit without edited_at under a key refused", []func(testing.TB) oplog.Body{orig, func(t testing.TB) oplog.Body {
			m := &entity.StatusMessage{AuthorID: editAuthor, ID: editGUID, CreatedAt: editMin(0), Public: true, Text: "undated words"}
			return received(t, m, ReceivedEditKey(editGUID, editMin(0).UnixMilli()))
		}}, want{exists: true, text: "original words", public: true, created: editMin(0), versions: []string{editGUID}}},
		{"edit of another guid under the key refused", []func(testing.TB) oplog.Body{orig, func(t testing.TB) oplog.Body {
			m := &entity.StatusMessage{AuthorID: editAuthor, ID: "other000aaaa1111bbbb2222cccc3333", CreatedAt: editMin(0),
				EditedAt: editMin(5), Public: true, Text: "other words"}
			return received(t, m, key(5))
		}}, want{exists: true, text: "original words", public: true, created: editMin(0), versions: []string{editGUID}}},
		{"edit of a limited post stays limited", []func(testing.TB) oplog.Body{func(t testing.TB) oplog.Body {
			return statusOp(t, editAuthor, editMin(0), time.Time{}, false, "original words")
		}, edit(5, true)}, want{exists: true, text: "edited words5", public: false, created: editMin(0), edited: editMin(5),
			versions: []string{editGUID, key(5)}}},
		{"edits alone: public only if all say so", []func(testing.TB) oplog.Body{edit(5, false), edit(9, true)},
			want{exists: true, text: "edited words9", public: false, created: editMin(0), edited: editMin(9),
				versions: []string{key(5), key(9)}}},
		{"edit moves the location", []func(testing.TB) oplog.Body{orig, func(t testing.TB) oplog.Body {
			m := &entity.StatusMessage{AuthorID: editAuthor, ID: editGUID, CreatedAt: editMin(0), EditedAt: editMin(5),
				Public: true, Text: "edited words5", Location: &entity.Location{Address: "Berlin", Lat: "52.5", Lng: "13.4"}}
			return received(t, m, key(5))
		}}, want{exists: true, text: "edited words5", public: true, created: editMin(0), edited: editMin(5),
			versions: []string{editGUID, key(5)}, location: "Berlin"}},
		{"edit adds a mention of me", []func(testing.TB) oplog.Body{orig, func(t testing.TB) oplog.Body {
			return statusOp(t, editAuthor, editMin(0), editMin(5), true, "hello @{Alice; alice@localhost}")
		}}, want{exists: true, text: "hello @{Alice; alice@localhost}", public: true, created: editMin(0), edited: editMin(5),
			versions: []string{editGUID, key(5)}, mentions: true}},
		{"edit claiming another created_at keeps the original's", []func(testing.TB) oplog.Body{func(t testing.TB) oplog.Body {
			return statusOp(t, editAuthor, editMin(-600), editMin(5), true, "edited words5")
		}, orig}, want{exists: true, text: "edited words5", public: true, created: editMin(0), edited: editMin(5),
			versions: []string{editGUID, key(5)}}},
		{"retraction then edit", []func(testing.TB) oplog.Body{orig, func(t testing.TB) oplog.Body {
			return received(t, &entity.Retraction{AuthorID: editAuthor, Target: editGUID, TargetTypeName: "Post"}, "")
		}, edit(5, true)}, want{}},
		{"retraction of an edit-only post", []func(testing.TB) oplog.Body{edit(5, true), func(t testing.TB) oplog.Body {
			return received(t, &entity.Retraction{AuthorID: editAuthor, Target: editGUID, TargetTypeName: "StatusMessage"}, "")
		}, orig, edit(9, true)}, want{}},
		{"retraction by another author ignored", []func(testing.TB) oplog.Body{orig, func(t testing.TB) oplog.Body {
			return received(t, &entity.Retraction{AuthorID: "mallory@evil.example", Target: editGUID, TargetTypeName: "Post"}, "")
		}, edit(5, true)}, want{exists: true, text: "edited words5", public: true, created: editMin(0), edited: editMin(5),
			versions: []string{editGUID, key(5)}}},
		{"edit of a reshare ignored", []func(testing.TB) oplog.Body{func(t testing.TB) oplog.Body {
			return received(t, &entity.Reshare{AuthorID: editAuthor, ID: editGUID, CreatedAt: editMin(0),
				RootAuthorID: "carol@pod.example", RootID: "root0000aaaa1111bbbb2222cccc3333"}, editGUID)
		}, edit(5, true)}, want{exists: true, public: true, created: editMin(0)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// Each op on a device of its own (a fixed clock each), applied
			// one at a time in the given order (the cases name the orders
			// that matter); a shuffled refold, which projects every op at
			// once, gives the same rows.
			id := []oplog.Body{oplog.SetField{Key: "identity/guid", Value: "0123456789abcdef0123456789abcdef"},
				oplog.SetField{Key: "identity/username", Value: "alice"},
				statusOpOf(t, &entity.StatusMessage{AuthorID: "carol@pod.example", ID: "filler00aaaa1111bbbb2222cccc3333",
					CreatedAt: editMin(-1), Public: true, Text: "unrelated filler"}, "")}
			db, l := openTestLog(t)
			for i, b := range append([][]oplog.Body{id}, bodiesOf(t, c.ops)...) {
				applyOps(t, l, signOps(t, i, b))
			}
			checkEditedPost(t, db, c.want.exists, c.want.text, c.want.public, c.want.created, c.want.edited,
				c.want.versions, c.want.location, c.want.mentions)
			checkFTS(t, "given order", db)
			want := projections(t, db)
			if err := l.Refold(context.Background(), RefoldOptions{Shuffle: 3}); err != nil {
				t.Fatal(err)
			}
			diffProjections(t, "refold", projections(t, db), want)
			checkFTS(t, "refold", db)
		})
	}
}

func bodiesOf(t testing.TB, ops []func(testing.TB) oplog.Body) [][]oplog.Body {
	var out [][]oplog.Body
	for _, op := range ops {
		out = append(out, []oplog.Body{op(t)})
	}
	return out
}

func statusOpOf(t testing.TB, m *entity.StatusMessage, key string) oplog.Body {
	if key == "" {
		key = m.ID
	}
	return received(t, m, key)
}

// signOps writes bodies to a log of device n with a fixed clock.
func signOps(t testing.TB, n int, bodies []oplog.Body) []oplog.Signed {
	t.Helper()
	seed := make([]byte, 32)
	seed[0], seed[1] = 0xed, byte(n+1)
	tick := 0
	log := oplog.NewLog(ed25519.NewKeyFromSeed(seed), uint64(n+1), func() time.Time {
		tick++
		return editBase.Add(time.Duration(n)*time.Hour + time.Duration(tick)*time.Second)
	})
	var out []oplog.Signed
	for _, b := range bodies {
		raw, err := oplog.EncodeBody(b)
		if err != nil {
			t.Fatalf("encode %T: %v", b, err)
		}
		_, sgn, err := log.Append(b.OpKind(), oplog.CurrentSchema, raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sgn)
	}
	return out
}

// applyOps applies a batch of signed ops.
func applyOps(t testing.TB, l *Log, ops []oplog.Signed) {
	t.Helper()
	if _, err := l.Apply(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
}

func checkEditedPost(t *testing.T, db *DB, exists bool, text string, public bool, created, edited time.Time,
	versions []string, location string, mentioned bool) {
	t.Helper()
	ctx := context.Background()
	p, ok, err := PostByGUID(ctx, db.R, editGUID)
	if err != nil {
		t.Fatal(err)
	}
	if ok != exists {
		t.Fatalf("post exists = %v, want %v (%+v)", ok, exists, p)
	}
	vs, err := PostVersions(ctx, db.R, editGUID)
	if err != nil {
		t.Fatal(err)
	}
	if !exists {
		if len(vs) > 0 {
			t.Errorf("a post that is gone has versions %+v", vs)
		}
		return
	}
	if p.Text != text || p.Public != public || p.Author != editAuthor {
		t.Errorf("post text %q public %v author %q; want %q %v %q", p.Text, p.Public, p.Author, text, public, editAuthor)
	}
	var wantEdited int64
	if !edited.IsZero() {
		wantEdited = edited.UnixMilli()
	}
	if p.CreatedAt != created.UnixMilli() || p.EditedAt != wantEdited {
		t.Errorf("post created_at %d edited_at %d; want %d %d", p.CreatedAt, p.EditedAt, created.UnixMilli(), wantEdited)
	}
	if p.ID != timeIDOf(editGUID, p.CreatedAt) {
		t.Errorf("post id %d, want the time id of its created_at %d", p.ID, timeIDOf(editGUID, p.CreatedAt))
	}
	var sources []string
	for _, v := range vs {
		sources = append(sources, v.Source)
	}
	if !slices.Equal(sources, versions) {
		t.Errorf("versions %q, want %q", sources, versions)
	}
	if len(vs) > 0 && vs[len(vs)-1].Text != text && p.PostType == PostTypeStatusMessage {
		t.Errorf("newest version %q, the post says %q", vs[len(vs)-1].Text, text)
	}
	gotLoc := ""
	if p.Location != nil {
		gotLoc = p.Location.Address
	}
	if gotLoc != location {
		t.Errorf("location %q, want %q", gotLoc, location)
	}
	var n int
	if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM notifications WHERE type = ? AND target_guid = ?",
		NotifyMentioned, editGUID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if (n > 0) != mentioned {
		t.Errorf("%d mentioned notifications, want them: %v", n, mentioned)
	}
	if text != "" {
		// The current text is searchable, an older one is not.
		if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM posts_fts WHERE posts_fts MATCH ?",
			`"`+text+`"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("posts_fts matches the post's text %d times, want 1", n)
		}
	}
}
