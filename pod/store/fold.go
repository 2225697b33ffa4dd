package store

import (
	"context"
	"fmt"
	"strings"

	"seedpod/pod/oplog"
)

// Reads of the fold that use cases need to write correct ops: the add tags
// a remove must list, the register versions a merging write supersedes.
// Each works inside a write (on a *Tx) or outside it (on db.R).

// SetTags are the live add tags of a member of an observed-remove set.
func SetTags(ctx context.Context, q querier, set, member string) ([]oplog.ID, error) {
	rows, err := q.QueryContext(ctx, `SELECT device, epoch, seq FROM st_set_adds
		WHERE name = ? AND member = ? AND live = 1`, set, member)
	if err != nil {
		return nil, fmt.Errorf("read tags of %s in %s: %w", member, set, err)
	}
	defer rows.Close()
	var out []oplog.ID
	for rows.Next() {
		var dev []byte
		var epoch int64
		var seq uint64
		if err := rows.Scan(&dev, &epoch, &seq); err != nil {
			return nil, err
		}
		out = append(out, scanID(dev, epoch, seq))
	}
	return out, rows.Err()
}

// IsMember reports whether member is in the set.
func IsMember(ctx context.Context, q querier, set, member string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM st_set_adds WHERE name = ? AND member = ? AND live = 1`,
		set, member).Scan(&n); err != nil {
		return false, fmt.Errorf("read %s in %s: %w", member, set, err)
	}
	return n > 0, nil
}

// LiveMembers says which of candidates are live members of set.
func LiveMembers(ctx context.Context, q querier, set string, candidates []string) (map[string]bool, error) {
	out := map[string]bool{}
	const chunk = 500
	for len(candidates) > 0 {
		n := min(chunk, len(candidates))
		args := make([]any, 0, n+1)
		args = append(args, set)
		for _, c := range candidates[:n] {
			args = append(args, c)
		}
		rows, err := q.QueryContext(ctx, `SELECT DISTINCT member FROM st_set_adds WHERE name = ? AND live = 1 AND member IN (?`+
			strings.Repeat(", ?", n-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read members of %s: %w", set, err)
		}
		for rows.Next() {
			var m string
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read members of %s: %w", set, err)
			}
			out[m] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read members of %s: %w", set, err)
		}
		candidates = candidates[n:]
	}
	return out, nil
}

// SetsOf are the sets member is live in, sorted.
func SetsOf(ctx context.Context, q querier, member string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT name FROM st_set_adds WHERE member = ? AND live = 1 ORDER BY name`, member)
	if err != nil {
		return nil, fmt.Errorf("read sets of %s: %w", member, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Members are the members of a set, sorted.
func Members(ctx context.Context, q querier, set string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT member FROM st_set_adds WHERE name = ? AND live = 1 ORDER BY member`, set)
	if err != nil {
		return nil, fmt.Errorf("read members of %s: %w", set, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// RegVersion is one live version of a multi-value register.
type RegVersion struct {
	ID      oplog.ID
	Value   string
	Deleted bool
	At      int64 // the write's wall clock, ms
}

// RegisterVersions are the live versions of a register (deletes included),
// oldest first. More than one non-deleted version means concurrent edits.
func RegisterVersions(ctx context.Context, q querier, name string) ([]RegVersion, error) {
	rows, err := q.QueryContext(ctx, `SELECT device, epoch, seq, wall, value, deleted FROM st_reg_writes
		WHERE register = ? AND live = 1 ORDER BY wall, logical, device, epoch, seq`, name)
	if err != nil {
		return nil, fmt.Errorf("read register %s: %w", name, err)
	}
	defer rows.Close()
	var out []RegVersion
	for rows.Next() {
		var v RegVersion
		var dev []byte
		var epoch int64
		var seq uint64
		if err := rows.Scan(&dev, &epoch, &seq, &v.At, &v.Value, &v.Deleted); err != nil {
			return nil, err
		}
		v.ID = scanID(dev, epoch, seq)
		out = append(out, v)
	}
	return out, rows.Err()
}

// Preds are the IDs of versions, for a write that supersedes them.
func Preds(vs []RegVersion) []oplog.OpRef {
	out := make([]oplog.OpRef, len(vs))
	for i, v := range vs {
		out[i] = oplog.RefOf(v.ID)
	}
	return out
}
