package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"seedpod/pod/oplog"
)

// Reads of the drafts table (project_drafts.go) for the drafts use cases.

// DraftRegister is the multi-value register that holds draft id.
func DraftRegister(id string) string { return "draft/" + id }

// VersionString names an op ID in the drafts table: the device key in hex,
// the epoch in hex and the sequence number, "hex:hex:seq".
func VersionString(id oplog.ID) string {
	return fmt.Sprintf("%x:%x:%d", []byte(id.Log.Device), id.Log.Epoch, id.Seq)
}

// DraftVersion is one live version of a draft.
type DraftVersion struct {
	Version   string // VersionString of the write
	Value     string // the draft JSON as written
	UpdatedAt int64  // the write's wall clock, ms
}

// Device is the hex of the writing device's key.
func (v DraftVersion) Device() string {
	d, _, _ := strings.Cut(v.Version, ":")
	return d
}

// DraftRow is a draft with its live versions, newest first (by write time,
// then version, so every device orders them alike).
type DraftRow struct {
	ID        string
	CreatedAt int64
	Versions  []DraftVersion
}

// UpdatedAt is the time of the newest version.
func (d DraftRow) UpdatedAt() int64 {
	if len(d.Versions) == 0 {
		return 0
	}
	return d.Versions[0].UpdatedAt
}

// Revision names the set of live versions: the first 16 bytes of the
// SHA-256 of their sorted version strings, in hex. Any write to the draft
// on any device changes it; the API uses it as the ETag.
func (d DraftRow) Revision() string {
	vs := make([]string, len(d.Versions))
	for i, v := range d.Versions {
		vs[i] = v.Version
	}
	slices.Sort(vs)
	h := sha256.Sum256([]byte(strings.Join(vs, "\n")))
	return hex.EncodeToString(h[:16])
}

// Draft reads one draft; ok is false when it has no live version.
func Draft(ctx context.Context, q querier, id string) (d DraftRow, ok bool, err error) {
	rows, err := q.QueryContext(ctx, `SELECT version, body, updated_at, created_at FROM drafts WHERE id = ?
		ORDER BY updated_at DESC, version DESC`, id)
	if err != nil {
		return d, false, fmt.Errorf("read draft %s: %w", id, err)
	}
	defer rows.Close()
	d.ID = id
	for rows.Next() {
		var v DraftVersion
		if err := rows.Scan(&v.Version, &v.Value, &v.UpdatedAt, &d.CreatedAt); err != nil {
			return d, false, fmt.Errorf("read draft %s: %w", id, err)
		}
		d.Versions = append(d.Versions, v)
	}
	if err := rows.Err(); err != nil {
		return d, false, fmt.Errorf("read draft %s: %w", id, err)
	}
	return d, len(d.Versions) > 0, nil
}

// DraftBound is a position in the drafts list (newest updated first): the
// list continues with drafts updated before UpdatedAt, or at UpdatedAt
// with an id below ID.
type DraftBound struct {
	UpdatedAt int64
	ID        string
}

// Drafts lists drafts newest updated first, after bound (nil: from the
// start), at most limit of them.
func Drafts(ctx context.Context, q querier, bound *DraftBound, limit int) ([]DraftRow, error) {
	query := `SELECT id, max(updated_at) AS u FROM drafts GROUP BY id`
	var args []any
	if bound != nil {
		query += ` HAVING u < ? OR (u = ? AND id < ?)`
		args = append(args, bound.UpdatedAt, bound.UpdatedAt, bound.ID)
	}
	query += ` ORDER BY u DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		var u int64
		if err := rows.Scan(&id, &u); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list drafts: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	out := make([]DraftRow, 0, len(ids))
	for _, id := range ids {
		d, ok, err := Draft(ctx, q, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// DraftCount is the number of drafts (for the UI's badges).
func DraftCount(ctx context.Context, q querier) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(DISTINCT id) FROM drafts").Scan(&n); err != nil {
		return 0, fmt.Errorf("count drafts: %w", err)
	}
	return n, nil
}
