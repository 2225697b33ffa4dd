package pod

import (
	"context"
	"encoding/hex"
	"fmt"
	"reflect"

	"seedpod/pod/store"
)

// RefoldReport says what a refold found.
type RefoldReport struct {
	Ops int `json:"ops"`
	// Before and After are digests of the domain tables; equal unless the
	// tables had drifted from the ops (or this binary projects differently
	// from the one that wrote them, e.g. after an upgrade).
	Before string         `json:"before"`
	After  string         `json:"after"`
	Rows   map[string]int `json:"rows"`
	// FoldMatches: the SQLite fold equals pod/oplog's in-memory fold of the
	// same ops (checked with Check).
	FoldMatches *bool `json:"fold_matches,omitempty"`
}

// Refold rebuilds the fold and every domain table from the stored ops. With
// check it also folds the ops in memory (pod/oplog's specification) and
// compares.
func (p *Pod) Refold(ctx context.Context, check bool, progress func(done, total int)) (RefoldReport, error) {
	var rep RefoldReport
	before, _, err := p.db.ProjectionDigest(ctx)
	if err != nil {
		return rep, err
	}
	err = p.log.Refold(ctx, store.RefoldOptions{Progress: progress})
	// A refold rewrites the fold without commit notices: what was cached
	// from it is stale either way.
	p.filters.invalidate()
	if err != nil {
		return rep, err
	}
	after, rows, err := p.db.ProjectionDigest(ctx)
	if err != nil {
		return rep, err
	}
	rep.Before, rep.After, rep.Rows = hex.EncodeToString(before[:]), hex.EncodeToString(after[:]), rows
	if check {
		st, n, err := p.db.FoldOps(ctx)
		if err != nil {
			return rep, err
		}
		rep.Ops = n
		got, err := p.db.Snapshot(ctx)
		if err != nil {
			return rep, err
		}
		ok := reflect.DeepEqual(got, st.Snapshot())
		rep.FoldMatches = &ok
		if !ok {
			return rep, fmt.Errorf("refold check: the SQLite fold of %d ops differs from the in-memory fold", n)
		}
	}
	return rep, nil
}
