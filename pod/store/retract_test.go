package store

import (
	"context"
	"testing"

	"seedpod/pod/diaspora/entity"
	"seedpod/pod/oplog"
)

// An own Retract tombstones its guid whatever holds it: a received post
// under that guid (a squatter of an own guid, or a Retract that arrived
// from another device before its Publish) does not show, in any order.
func TestOwnRetractHidesAReceivedPostUnderItsGUID(t *testing.T) {
	const guid = "5a0a0000000000000000000000000001"
	recv := func(t testing.TB) oplog.Body {
		return received(t, &entity.StatusMessage{AuthorID: "mallory@pod.example", ID: guid, CreatedAt: editMin(1), Public: true,
			Text: "squatting"}, guid)
	}
	for _, c := range []struct {
		name  string
		order []func(testing.TB) oplog.Body
		shown bool
	}{
		{"received only", []func(testing.TB) oplog.Body{recv}, true},
		{"retract after", []func(testing.TB) oplog.Body{recv, func(testing.TB) oplog.Body { return oplog.Retract{GUID: guid} }}, false},
		{"retract before", []func(testing.TB) oplog.Body{func(testing.TB) oplog.Body { return oplog.Retract{GUID: guid} }, recv}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, l := openTestLog(t)
			for i, b := range c.order {
				applyOps(t, l, signOps(t, i, []oplog.Body{b(t)}))
			}
			_, ok, err := PostByGUID(context.Background(), db.R, guid)
			if err != nil || ok != c.shown {
				t.Fatalf("post shown: %v, %v; want %v", ok, err, c.shown)
			}
			want := projections(t, db)
			if err := l.Refold(context.Background(), RefoldOptions{Shuffle: 3}); err != nil {
				t.Fatal(err)
			}
			diffProjections(t, "refold", projections(t, db), want)
		})
	}
}
