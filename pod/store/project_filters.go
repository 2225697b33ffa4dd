package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Mute filters (pod/filters.go) as the fold holds them. A filter is a live
// member of the observed-remove set "filters" (its id) plus last-writer-wins
// fields "filter/<id>/<name>" (kind, value, match, contexts, action,
// expires_at, created_at; docs/data-model.md). There is no projection
// table: a pod holds at most a few hundred filters, read with two range
// scans of the fold's primary keys whenever a page is built, so a refold
// and sync need nothing filter-specific. A removed filter's fields stay in
// st_fields and are ignored.

// SetFilters is the set of live filter ids.
const SetFilters = "filters"

// filterFieldPrefix starts every filter field key.
const filterFieldPrefix = "filter/"

// FilterField is the key of one field of a filter.
func FilterField(id, name string) string { return filterFieldPrefix + id + "/" + name }

// FilterIDOfKey is the filter id of a filter field key; ok is false for
// any other key.
func FilterIDOfKey(key string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(key, filterFieldPrefix)
	if !ok {
		return "", false
	}
	id, _, ok = strings.Cut(rest, "/")
	return id, ok && id != ""
}

// FilterRecord is one live filter's fields by name ("kind", "value", …),
// as stored; pod/filters.go reads and checks them.
type FilterRecord struct {
	ID     string
	Fields map[string]string
}

// FilterFieldNames are the fields Filters reads (docs/data-model.md).
var FilterFieldNames = []string{"kind", "value", "match", "contexts", "action", "expires_at", "created_at"}

// filtersQuery reads one row per live filter, a column per field: a
// primary-key lookup each inside SQLite. Stepping rows through the driver
// is what costs (a row per field took three times as long).
var filtersQuery = func() string {
	var b strings.Builder
	b.WriteString("SELECT s.member")
	for _, n := range FilterFieldNames {
		b.WriteString(", (SELECT value FROM st_fields WHERE key = '" + filterFieldPrefix + "' || s.member || '/" + n + "')")
	}
	b.WriteString(" FROM (SELECT DISTINCT member FROM st_set_adds WHERE name = ? AND live = 1) s ORDER BY s.member")
	return b.String()
}()

// Filters reads every live filter, sorted by id: the fields it has (a
// live id whose fields have not arrived yet has none).
func Filters(ctx context.Context, q Querier) ([]FilterRecord, error) {
	rows, err := q.QueryContext(ctx, filtersQuery, SetFilters)
	if err != nil {
		return nil, fmt.Errorf("read filters: %w", err)
	}
	defer rows.Close()
	var out []FilterRecord
	vals := make([]sql.NullString, len(FilterFieldNames))
	dest := make([]any, 1+len(vals))
	for i := range vals {
		dest[i+1] = &vals[i]
	}
	for rows.Next() {
		var id string
		dest[0] = &id
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read filters: %w", err)
		}
		r := FilterRecord{ID: id, Fields: make(map[string]string, len(vals))}
		for i, v := range vals {
			if v.Valid {
				r.Fields[FilterFieldNames[i]] = v.String
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read filters: %w", err)
	}
	return out, nil
}

// PostTagsByIDs reads the tags of posts (lowercase, no '#') by post id.
func PostTagsByIDs(ctx context.Context, q Querier, ids []int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	const chunk = 500
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		rows, err := q.QueryContext(ctx, `SELECT post_id, tag FROM post_tags WHERE post_id IN (?`+
			strings.Repeat(", ?", n-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read tags of posts: %w", err)
		}
		for rows.Next() {
			var id int64
			var tag string
			if err := rows.Scan(&id, &tag); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read tags of posts: %w", err)
			}
			out[id] = append(out[id], tag)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read tags of posts: %w", err)
		}
		ids = ids[n:]
	}
	return out, nil
}
