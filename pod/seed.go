package pod

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// SeedOptions shape generated data for benchmarks and demos.
type SeedOptions struct {
	Posts    int    // posts in all: own and received
	Contacts int    // remote people, each in one of the seeded aspects
	Seed     uint64 // random seed (same seed, same data)
	// OwnShare is the share of posts written by the user (default 0.1).
	OwnShare float64
	// Batch is how many ops go into one transaction (default 2,000).
	Batch int
	// Progress is called after each transaction with (posts done, total).
	Progress func(done, total int)
}

var seedWords = strings.Fields(`the a of and to in is it that for on with as was at by this from or be are an
	garden river bread music coffee winter summer morning city bike train book film photo walk friends
	family work travel mountain sea rain sun street market kitchen recipe song concert library school
	code linux privacy federation diaspora seedpod decentralised cooking weekend holiday birthday`)

var seedTags = []string{"photography", "music", "cooking", "linux", "privacy", "travel", "books", "nature", "art", "diaspora"}

// Seed fills the pod with generated people, aspect memberships, posts (own
// and received), comments and likes, written as ops in large transactions
// (the same path as live writes and sync). It creates the identity first
// if there is none. Not for real pods: for benchmarks and screenshots.
func (p *Pod) Seed(ctx context.Context, o SeedOptions) error {
	if o.OwnShare == 0 {
		o.OwnShare = 0.1
	}
	if o.Batch <= 0 {
		o.Batch = 2000
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	me, err := p.db.Me(ctx)
	if err != nil {
		return err
	}
	if !me.Exists() {
		if _, err := p.CreateIdentity(ctx, "Seed User", "seed"); err != nil {
			return err
		}
		if me, err = p.db.Me(ctx); err != nil {
			return err
		}
	}
	type person struct{ guid, handle string }
	people := make([]person, o.Contacts)
	base := p.cfg.Now().Add(-time.Duration(o.Posts) * time.Minute)
	for i := range people {
		people[i] = person{guid: fmt.Sprintf("%032x", r.Uint64()), handle: fmt.Sprintf("user%d@pod%d.example", i, i%50)}
	}
	// People and their aspects.
	step := max(1, o.Batch/3)
	for start := 0; start < len(people); start += step {
		end := min(len(people), start+step)
		err := p.log.Write(ctx, func(w *store.Writer) error {
			for i := start; i < end; i++ {
				rec := store.PersonRecord{GUID: people[i].guid, DiasporaID: people[i].handle, Searchable: true,
					FirstName: seedName(r), LastName: seedName(r), FetchedAt: base.UnixMilli(),
					PublicKey: "-----BEGIN PUBLIC KEY-----\nseed\n-----END PUBLIC KEY-----\n"}
				payload, guid, err := rec.Encode()
				if err != nil {
					return err
				}
				if err := appendReceived(w, guid, store.EntityPerson, rec.DiasporaID, payload); err != nil {
					return err
				}
				if _, err := w.Append(oplog.AspectAdd{Aspect: fmt.Sprint(1 + r.IntN(len(SeededAspects))), Member: people[i].guid}); err != nil {
					return err
				}
				if r.IntN(4) > 0 { // most share back
					c, _ := entity.Marshal(&entity.Contact{AuthorID: people[i].handle, Recipient: me.Handle(), Following: true, Sharing: true})
					if err := appendReceived(w, "contact:"+hashHex(c), store.EntityContact, people[i].handle, c); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed people: %w", err)
		}
	}
	// Posts, with some comments and likes.
	var recent []string
	done := 0
	for done < o.Posts {
		n := min(o.Posts-done, o.Batch)
		err := p.log.Write(ctx, func(w *store.Writer) error {
			for i := 0; i < n; i++ {
				at := base.Add(time.Duration(done+i) * time.Minute)
				text := seedText(r)
				guid := fmt.Sprintf("%032x", r.Uint64())
				if len(people) == 0 || r.Float64() < o.OwnShare {
					body, _ := json.Marshal(map[string]any{"text": text, "public": true, "aspect_ids": []int{}, "photos": []string{}})
					if _, err := w.Append(oplog.Publish{GUID: guid, Kind: "post", CreatedAt: at.UnixMilli(), Body: body}); err != nil {
						return err
					}
				} else {
					author := people[r.IntN(len(people))]
					x, err := entity.Marshal(&entity.StatusMessage{AuthorID: author.handle, ID: guid, CreatedAt: at.UTC().Truncate(time.Second),
						Public: r.IntN(3) > 0, Text: text})
					if err != nil {
						return err
					}
					if err := appendReceived(w, guid, store.EntityStatusMessage, author.handle, x); err != nil {
						return err
					}
				}
				recent = append(recent, guid)
				if len(recent) > 50 {
					recent = recent[1:]
				}
				if len(people) > 0 && r.IntN(5) == 0 {
					c := people[r.IntN(len(people))]
					cg := fmt.Sprintf("%032x", r.Uint64())
					x, err := entity.Marshal(&entity.Comment{AuthorID: c.handle, ID: cg, Parent: recent[r.IntN(len(recent))],
						Text: seedText(r), CreatedAt: at.Add(time.Minute).UTC().Truncate(time.Second)})
					if err != nil {
						return err
					}
					if err := appendReceived(w, cg, store.EntityComment, c.handle, x); err != nil {
						return err
					}
				}
				if r.IntN(10) == 0 {
					lg := fmt.Sprintf("%032x", r.Uint64())
					if _, err := w.Append(oplog.Publish{GUID: lg, Kind: "like", Parent: recent[r.IntN(len(recent))],
						CreatedAt: at.UnixMilli(), Body: json.RawMessage(`{"target_type":"Post"}`)}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed posts: %w", err)
		}
		done += n
		if o.Progress != nil {
			o.Progress(done, o.Posts)
		}
	}
	return nil
}

func appendReceived(w *store.Writer, guid, typ, author string, payload []byte) error {
	_, err := w.Append(oplog.Received{GUID: guid, EntityType: typ, Author: author, PayloadHash: hashHex(payload), Payload: string(payload)})
	return err
}

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func seedName(r *rand.Rand) string {
	names := []string{"Ada", "Bo", "Chen", "Dara", "Eli", "Fatou", "Gus", "Hana", "Ivo", "Juno", "Kai", "Lena", "Mo", "Nia", "Oskar", "Priya"}
	return names[r.IntN(len(names))]
}

func seedText(r *rand.Rand) string {
	var b strings.Builder
	n := 8 + r.IntN(40)
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(seedWords[r.IntN(len(seedWords))])
	}
	if r.IntN(3) == 0 {
		b.WriteString(" #" + seedTags[r.IntN(len(seedTags))])
	}
	return b.String()
}
