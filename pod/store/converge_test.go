package store

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
)

// The domain-level property test: three devices of one user write random
// ops of every kind the pod uses — with valid bodies and real entity XML,
// so every projection runs — while seeing only part of each other's logs.
// Two stores receive all logs in different interleavings with resends; the
// domain tables must come out identical, and a shuffled refold must give
// them again. (TestFoldMatchesState checks the generic fold against
// oplog.State; this checks the projections on top of it.)

type domainSim struct {
	r       *rand.Rand
	people  []simPerson
	ownPost []string // own post guids published anywhere
	posts   []string // all post guids (own and received)
	comms   []string
	convs   []string
	// statuses are the received status messages, originals or edits only,
	// that received edits may name.
	statuses []simStatus
	guidN    int
	base     time.Time
}

type simStatus struct {
	guid, author string
	created      time.Time
	public       bool
}

type simPerson struct{ guid, handle string }

func (s *domainSim) guid() string {
	s.guidN++
	return fmt.Sprintf("%08x%024x", s.r.Uint32(), s.guidN)
}

func received(t testing.TB, e entity.Entity, guid string) oplog.Body {
	x, err := entity.Marshal(e)
	if err != nil {
		t.Fatalf("marshal %T: %v", e, err)
	}
	h := sha256.Sum256(x)
	if guid == "" {
		guid = e.Type() + ":" + hex.EncodeToString(h[:])
	}
	return oplog.Received{GUID: guid, EntityType: e.Type(), Author: e.Author(), PayloadHash: hex.EncodeToString(h[:]), Payload: string(x)}
}

func (s *domainSim) at(i int) time.Time { return s.base.Add(time.Duration(i) * time.Minute).UTC() }

// body picks a random domain op for a device that has seen state st.
func (s *domainSim) body(t testing.TB, st *oplog.State, step int) oplog.Body {
	r := s.r
	p := s.people[r.IntN(len(s.people))]
	when := s.at(step)
	pickPost := func() string {
		if len(s.posts) == 0 {
			return s.guid()
		}
		return s.posts[r.IntN(len(s.posts))]
	}
	switch r.IntN(25) {
	case 0:
		return oplog.SetField{Key: fmt.Sprintf("aspect/%d/name", 1+r.IntN(5)), Value: []string{"", "Friends", "Work", "Café", "Band"}[r.IntN(5)]}
	case 1:
		return oplog.SetField{Key: fmt.Sprintf("aspect/%d/order", 1+r.IntN(5)), Value: fmt.Sprint(r.IntN(6))}
	case 2:
		return oplog.AspectAdd{Aspect: fmt.Sprint(1 + r.IntN(5)), Member: p.guid}
	case 3:
		a := fmt.Sprint(1 + r.IntN(5))
		return oplog.AspectRemove{Aspect: a, Member: p.guid, Observed: oplog.Refs(st.Tags(oplog.AspectSet(a), p.guid))}
	case 4:
		payload, guid, err := PersonRecord{GUID: p.guid, DiasporaID: p.handle, FirstName: []string{"Bo", "Ada", "Cy"}[r.IntN(3)],
			Searchable: r.IntN(2) == 0, Birthday: "1990-11-26", FetchedAt: int64(r.IntN(5))}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(payload)
		return oplog.Received{GUID: guid, EntityType: EntityPerson, Author: p.handle, PayloadHash: hex.EncodeToString(h[:]), Payload: string(payload)}
	case 5:
		return received(t, &entity.Contact{AuthorID: p.handle, Recipient: "alice@localhost", Following: true, Sharing: r.IntN(3) > 0}, "")
	case 6, 7:
		g := s.guid()
		s.posts = append(s.posts, g)
		text := fmt.Sprintf("post %d #garden", step)
		if r.IntN(3) == 0 {
			text += " hi @{Alice; alice@localhost}"
		}
		m := &entity.StatusMessage{AuthorID: p.handle, ID: g, CreatedAt: when.Truncate(time.Second), Public: r.IntN(2) == 0, Text: text}
		s.statuses = append(s.statuses, simStatus{guid: g, author: p.handle, created: m.CreatedAt, public: m.Public})
		return received(t, m, g)
	case 22, 23:
		return s.receivedEdit(t, p, when, step)
	case 24:
		if r.IntN(2) == 0 {
			// A move from one person to another (sharing, conversations
			// and the first-migration rule depend on arrival order).
			q := s.people[r.IntN(len(s.people))]
			if q.handle != p.handle {
				m := &entity.AccountMigration{AuthorID: p.handle, OldIdentityID: p.handle, Signature: "c2ln",
					Profile: &entity.Profile{AuthorID: q.handle, FirstName: "Moved"}}
				if r.IntN(2) == 0 {
					m.AuthorID = q.handle
				}
				return received(t, m, "")
			}
		}
		// An account deletion, by one of the last two people only, so the
		// others' entities keep showing.
		return received(t, &entity.AccountDeletion{AuthorID: s.people[len(s.people)-1-r.IntN(2)].handle}, "")
	case 8:
		g := s.guid()
		s.comms = append(s.comms, g)
		return received(t, &entity.Comment{AuthorID: p.handle, ID: g, Parent: pickPost(), Text: "a comment @{Alice; alice@localhost}", CreatedAt: when.Truncate(time.Second)}, g)
	case 9:
		g := s.guid()
		return received(t, &entity.Like{AuthorID: p.handle, ID: g, Parent: pickPost(), ParentTypeName: "Post", Positive: true}, g)
	case 10:
		// A retraction by the author (applies) or by someone else (ignored).
		return received(t, &entity.Retraction{AuthorID: p.handle, Target: pickPost(), TargetTypeName: "Post"}, "")
	case 11:
		g := s.guid()
		s.posts = append(s.posts, g)
		return received(t, &entity.Reshare{AuthorID: p.handle, ID: g, CreatedAt: when.Truncate(time.Second), RootAuthorID: "alice@localhost", RootID: pickPost()}, g)
	case 12, 13:
		g := s.guid()
		s.posts = append(s.posts, g)
		s.ownPost = append(s.ownPost, g)
		public := r.IntN(2) == 0
		body := map[string]any{"text": fmt.Sprintf("my post %d #garden", step), "public": public, "aspect_ids": []int{}, "photos": []string{}}
		var recips []string
		if !public {
			body["aspect_ids"] = []int{1}
			recips = st.Members(oplog.AspectSet("1"))
		}
		if r.IntN(4) == 0 {
			body["poll"] = map[string]any{"guid": s.guid(), "question": "tea?", "answers": []map[string]any{{"id": 1, "answer": "yes"}, {"id": 2, "answer": "no"}}}
		}
		b, _ := json.Marshal(body)
		return oplog.Publish{GUID: g, Kind: "post", CreatedAt: when.UnixMilli(), Body: b, Recipients: recips}
	case 14:
		if len(s.ownPost) == 0 {
			return oplog.SetAdd{Set: "tags", Member: "garden"}
		}
		b, _ := json.Marshal(map[string]any{"text": fmt.Sprintf("edited %d", step)})
		return oplog.Publish{GUID: s.guid(), Kind: "edit", Parent: s.ownPost[r.IntN(len(s.ownPost))], CreatedAt: when.UnixMilli(), Body: b}
	case 15:
		g := s.guid()
		s.comms = append(s.comms, g)
		return oplog.Publish{GUID: g, Kind: "comment", Parent: pickPost(), CreatedAt: when.UnixMilli(), Body: json.RawMessage(`{"text":"my comment"}`)}
	case 16:
		return oplog.Publish{GUID: s.guid(), Kind: "like", Parent: pickPost(), CreatedAt: when.UnixMilli(), Body: json.RawMessage(`{"target_type":"Post"}`)}
	case 17:
		// Retract something: an own post, a comment, or a guid never published.
		pool := append(append([]string{s.guid()}, s.ownPost...), s.comms...)
		return oplog.Retract{GUID: pool[r.IntN(len(pool))]}
	case 18:
		reg := "draft/d" + fmt.Sprint(r.IntN(2))
		var pred []oplog.OpRef
		for _, v := range st.RegisterVersions(reg) {
			pred = append(pred, oplog.RefOf(v.At.ID()))
		}
		if r.IntN(5) == 0 {
			return oplog.DraftWrite{Register: reg, Deleted: true, Pred: pred}
		}
		b, _ := json.Marshal(map[string]any{"body": fmt.Sprintf("draft %d", step), "public": true, "aspects": []int{}, "photos": []string{}})
		return oplog.DraftWrite{Register: reg, Value: string(b), Pred: pred}
	case 19:
		set := []string{"blocks", "ignores", "hidden", "tags"}[r.IntN(4)]
		m := p.guid
		if set == "hidden" {
			m = pickPost()
		} else if set == "tags" {
			m = "garden"
		}
		if r.IntN(3) == 0 {
			return oplog.SetRemove{Set: set, Member: m, Observed: oplog.Refs(st.Tags(set, m))}
		}
		return oplog.SetAdd{Set: set, Member: m}
	case 20:
		if len(s.convs) == 0 || r.IntN(2) == 0 {
			g := s.guid()
			s.convs = append(s.convs, g)
			mg := s.guid()
			return received(t, &entity.Conversation{AuthorID: p.handle, ID: g, Subject: "hello", CreatedAt: when.Truncate(time.Second),
				Participants: []string{p.handle, "alice@localhost"},
				Messages:     []*entity.Message{{AuthorID: p.handle, ID: mg, Text: "first", CreatedAt: when.Truncate(time.Second), ConversationGUID: g}}}, g)
		}
		c := s.convs[r.IntN(len(s.convs))]
		return oplog.Publish{GUID: s.guid(), Kind: "message", Parent: c, CreatedAt: when.UnixMilli(), Body: json.RawMessage(`{"text":"reply"}`)}
	default:
		return oplog.ReadUpTo{Stream: "notifications", Watermark: when.Add(-time.Duration(r.IntN(100)) * time.Minute).UnixMilli()}
	}
}

// receivedEdit is a received edit (ReceivedEditKey) of a received status
// message: mostly by its author, some by another (refused), some under a
// key that is not their edited_at (refused), some claiming another
// created_at or visibility; or the first edit of a post whose original
// never arrives.
func (s *domainSim) receivedEdit(t testing.TB, p simPerson, when time.Time, step int) oplog.Body {
	r := s.r
	var st simStatus
	if len(s.statuses) == 0 || r.IntN(6) == 0 {
		st = simStatus{guid: s.guid(), author: p.handle, created: when.Add(-time.Duration(1+r.IntN(30)) * time.Minute).Truncate(time.Second),
			public: r.IntN(2) == 0}
		s.statuses = append(s.statuses, st)
		s.posts = append(s.posts, st.guid)
	} else {
		st = s.statuses[r.IntN(len(s.statuses))]
	}
	m := &entity.StatusMessage{AuthorID: st.author, ID: st.guid, CreatedAt: st.created, EditedAt: when.Truncate(time.Second),
		Public: st.public, Text: fmt.Sprintf("edited post %d #garden", step)}
	key := ReceivedEditKey(st.guid, m.EditedAt.UnixMilli())
	switch r.IntN(10) {
	case 0:
		m.AuthorID = p.handle // another author, unless p wrote it
	case 1:
		key = ReceivedEditKey(st.guid, m.EditedAt.UnixMilli()+1000) // not its edited_at
	case 2:
		m.CreatedAt = m.CreatedAt.Add(-time.Hour) // another created_at
	case 3:
		m.Public = !m.Public
	case 4:
		m.Text += " hi @{Alice; alice@localhost}"
	case 5:
		m.Location = &entity.Location{Address: "Berlin", Lat: "52.52", Lng: "13.40"}
	}
	return received(t, m, key)
}

func simulateDomain(t testing.TB, seed uint64, perDevice int) []*simDevice {
	r := rand.New(rand.NewPCG(seed, 7))
	s := &domainSim{r: r, base: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	for i := range 6 {
		s.people = append(s.people, simPerson{guid: fmt.Sprintf("%032x", 0xabc000+i), handle: fmt.Sprintf("p%d@pod%d.example", i, i%2)})
	}
	var devs []*simDevice
	for i := range 3 {
		keySeed := make([]byte, 32)
		keySeed[0], keySeed[1], keySeed[2] = byte(i+1), byte(seed), 0xd0
		skew := time.Duration(r.IntN(600)-300) * time.Second
		tick := 0
		now := func() time.Time { tick++; return s.base.Add(skew + time.Duration(tick)*time.Millisecond) }
		devs = append(devs, &simDevice{log: oplog.NewLog(ed25519.NewKeyFromSeed(keySeed), r.Uint64(), now),
			state: oplog.NewState(), seen: map[string]int{}})
	}
	appendOp := func(d *simDevice, b oplog.Body) {
		raw, err := oplog.EncodeBody(b)
		if err != nil {
			t.Fatalf("encode %T: %v", b, err)
		}
		op, sgn, err := d.log.Append(b.OpKind(), oplog.CurrentSchema, raw)
		if err != nil {
			t.Fatal(err)
		}
		d.ops = append(d.ops, sgn)
		if err := d.state.Apply(op); err != nil {
			t.Fatal(err)
		}
		d.seen[d.log.ID().String()] = len(d.ops)
	}
	// The identity, written once by the first device.
	for _, f := range []oplog.SetField{{Key: "identity/guid", Value: "0123456789abcdef0123456789abcdef"},
		{Key: "identity/username", Value: "alice"}, {Key: "aspect/1/name", Value: "Family"}, {Key: "aspect/2/name", Value: "Friends"}} {
		appendOp(devs[0], f)
	}
	for step := range 3 * perDevice {
		d := devs[r.IntN(3)]
		if r.IntN(8) == 0 {
			d.observe(t, devs)
			continue
		}
		appendOp(d, s.body(t, d.state, step))
	}
	return devs
}

// projections reads every domain table.
func projections(t testing.TB, db *DB) map[string][]string {
	out := map[string][]string{}
	for _, tb := range ProjectionTables() {
		rows, err := db.DumpProjection(context.Background(), tb)
		if err != nil {
			t.Fatal(err)
		}
		out[tb] = rows
	}
	return out
}

func diffProjections(t *testing.T, what string, got, want map[string][]string) {
	t.Helper()
	for _, tb := range ProjectionTables() {
		if !slices.Equal(got[tb], want[tb]) {
			var only1, only2 []string
			for _, x := range got[tb] {
				if !slices.Contains(want[tb], x) {
					only1 = append(only1, x)
				}
			}
			for _, x := range want[tb] {
				if !slices.Contains(got[tb], x) {
					only2 = append(only2, x)
				}
			}
			t.Errorf("%s: table %s differs\n only in got:  %q\n only in want: %q", what, tb, only1, only2)
		}
	}
}

// checkFTS fails unless posts_fts and comments_fts, which the projections
// write (0009_speed.sql), index exactly the rows of posts and comments:
// every term of a reference index built from the rows, and every term the
// FTS5 table has ever seen, matches the same rowids in both.
func checkFTS(t *testing.T, what string, db *DB) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ids := func(query string, args ...any) []int64 {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			t.Fatalf("%s: %s: %v", what, query, err)
		}
		defer rows.Close()
		var out []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		return out
	}
	for _, table := range []string{"posts", "comments"} {
		fts := table + "_fts"
		for _, q := range []string{
			"CREATE VIRTUAL TABLE temp.ref USING fts5(text, content='', tokenize='unicode61 remove_diacritics 2')",
			"INSERT INTO temp.ref (rowid, text) SELECT id, text FROM " + table,
			"CREATE VIRTUAL TABLE temp.refv USING fts5vocab(temp, ref, row)",
			"CREATE VIRTUAL TABLE temp.ftsv USING fts5vocab(main, " + fts + ", row)",
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %s: %v", what, q, err)
			}
		}
		rows, err := tx.QueryContext(ctx, "SELECT term FROM temp.refv UNION SELECT term FROM temp.ftsv")
		if err != nil {
			t.Fatal(err)
		}
		var terms []string
		for rows.Next() {
			var term string
			if err := rows.Scan(&term); err != nil {
				t.Fatal(err)
			}
			terms = append(terms, term)
		}
		rows.Close()
		if len(terms) == 0 && len(ids("SELECT id FROM "+table)) > 0 {
			t.Fatalf("%s: no terms in %s", what, table)
		}
		if got, want := ids("SELECT count(*) FROM "+fts), ids("SELECT count(*) FROM "+table); !slices.Equal(got, want) {
			t.Errorf("%s: %s has %v rows, %s %v", what, fts, got, table, want)
		}
		for _, term := range terms {
			expr := `"` + strings.ReplaceAll(term, `"`, `""`) + `"`
			got := ids("SELECT rowid FROM "+fts+" WHERE "+fts+" MATCH ? ORDER BY rowid", expr)
			want := ids("SELECT rowid FROM temp.ref WHERE ref MATCH ? ORDER BY rowid", expr)
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s MATCH %s: rowids %v, the rows say %v", what, fts, expr, got, want)
			}
		}
		for _, q := range []string{"DROP TABLE temp.ftsv", "DROP TABLE temp.refv", "DROP TABLE temp.ref"} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestProjectionsConverge: any delivery order, with resends, gives the
// same domain tables, and a shuffled refold gives them again.
func TestProjectionsConverge(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 4
	}
	// A long run: SEEDPOD_CONVERGE_SEEDS=500 go test -run TestProjectionsConverge ./pod/store
	if n, err := strconv.Atoi(os.Getenv("SEEDPOD_CONVERGE_SEEDS")); err == nil && n > 0 {
		seeds = n
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			devs := simulateDomain(t, seed, 40)
			r := rand.New(rand.NewPCG(seed, 3))
			dbA, la := openTestLog(t)
			deliver(t, la, devs, r)
			dbB, lb := openTestLog(t)
			// Store B gets the logs in reverse device order first, then the rest.
			slices.Reverse(devs)
			deliver(t, lb, devs, r)
			want := projections(t, dbA)
			diffProjections(t, "delivery order", projections(t, dbB), want)
			checkFTS(t, "store A", dbA)
			checkFTS(t, "store B", dbB)
			// A refold rebuilds the FTS5 tables too: rows it does not
			// write again must go.
			for _, fts := range []string{"posts_fts", "comments_fts"} {
				if _, err := dbB.W.Exec("INSERT INTO " + fts + " (rowid, text) VALUES (1, 'stale words')"); err != nil {
					t.Fatal(err)
				}
			}
			if err := lb.Refold(context.Background(), RefoldOptions{Shuffle: seed + 11}); err != nil {
				t.Fatal(err)
			}
			diffProjections(t, "refold", projections(t, dbB), want)
			checkFTS(t, "refold", dbB)
			if t.Failed() {
				t.FailNow()
			}
			n := 0
			for _, rows := range want {
				n += len(rows)
			}
			if n < 20 {
				t.Fatalf("only %d projected rows: the generator no longer exercises the projections", n)
			}
		})
	}
}
