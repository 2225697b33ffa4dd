package store

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
)

// benchOps makes n ops of another device, the mix a pod sees: received
// posts and comments, own posts and likes, field writes and set adds.
func benchOps(b *testing.B, n int, mix []int) []oplog.Signed {
	b.Helper()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := 0
	l := oplog.NewLog(ed25519.NewKeyFromSeed(make([]byte, 32)), 42, func() time.Time {
		tick++
		return base.Add(time.Duration(tick) * time.Second)
	})
	out := make([]oplog.Signed, 0, n)
	for i := range n {
		var body oplog.Body
		at := base.Add(time.Duration(i) * time.Second)
		guid := fmt.Sprintf("%032x", i+1)
		switch mix[i%len(mix)] {
		case 0, 1, 2, 3, 4:
			x, err := entity.Marshal(&entity.StatusMessage{AuthorID: fmt.Sprintf("u%d@pod.example", i%100), ID: guid,
				CreatedAt: at, Public: true, Text: "a post about #gardens and bread number " + guid})
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.Sum256(x)
			body = oplog.Received{GUID: guid, EntityType: EntityStatusMessage, Author: fmt.Sprintf("u%d@pod.example", i%100),
				PayloadHash: hex.EncodeToString(h[:]), Payload: string(x)}
		case 5, 6:
			x, err := entity.Marshal(&entity.Comment{AuthorID: "c@pod.example", ID: guid, Parent: fmt.Sprintf("%032x", i), Text: "nice", CreatedAt: at})
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.Sum256(x)
			body = oplog.Received{GUID: guid, EntityType: EntityComment, Author: "c@pod.example", PayloadHash: hex.EncodeToString(h[:]), Payload: string(x)}
		case 7:
			pb, _ := json.Marshal(map[string]any{"text": "my own post " + guid, "public": true, "aspect_ids": []int{}, "photos": []string{}})
			body = oplog.Publish{GUID: guid, Kind: "post", CreatedAt: at.UnixMilli(), Body: pb}
		case 8:
			body = oplog.Publish{GUID: guid, Kind: "like", Parent: fmt.Sprintf("%032x", i-7), CreatedAt: at.UnixMilli(), Body: json.RawMessage(`{"target_type":"Post"}`)}
		default:
			body = oplog.SetAdd{Set: "aspect/1", Member: fmt.Sprintf("person%d", i%300)}
		}
		raw, err := oplog.EncodeBody(body)
		if err != nil {
			b.Fatal(err)
		}
		_, s, err := l.Append(body.OpKind(), oplog.CurrentSchema, raw)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// BenchmarkApply is sync's path: batches of 500 ops of another device
// verified, stored, folded and projected in one transaction each; ops/s is
// the figure the issue sets a floor for (≥ 5,000). Three mixes: what a
// pod receives from the network (mostly posts and comments: XML parsing,
// Markdown, FTS5), what the user's own devices write (posts, likes,
// aspect changes), and the two together.
func BenchmarkApply(b *testing.B) {
	for _, m := range []struct {
		name string
		mix  []int
	}{
		{"mixed", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"received", []int{0, 5, 0, 6, 0}},
		{"own", []int{7, 8, 9, 8, 9}},
	} {
		b.Run(m.name, func(b *testing.B) {
			const perRun = 5000
			ops := benchOps(b, perRun, m.mix)
			for b.Loop() {
				b.StopTimer()
				_, l := openTestLog(b)
				b.StartTimer()
				for i := 0; i < len(ops); i += 500 {
					if _, err := l.Apply(context.Background(), ops[i:min(len(ops), i+500)]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(perRun*b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
