package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Me is the user's identity as the fold holds it (identity/* fields).
type Me struct {
	GUID     string // the person guid; "" before the identity is created
	Username string
	Domain   string // the relay's domain; "" until a relay is set up
	// Former are the diaspora* IDs the identity had before it moved to
	// another relay (FormerIDsSet), lowercase, sorted: what was sent or
	// received under them is the user's too.
	Former []string
}

// FormerIDsSet holds the diaspora* IDs the identity moved away from (a
// relay move): members are lowercase handles.
const FormerIDsSet = "former_ids"

// IsMe reports whether a diaspora* ID is the user's, now or before a move.
func (m Me) IsMe(handle string) bool {
	if !m.Exists() {
		return false
	}
	h := strings.ToLower(handle)
	return h == m.Handle() || slices.Contains(m.Former, h)
}

// LocalDomain stands in for the domain before a relay is set up: the
// identity exists and works offline, but nobody can reach it yet.
const LocalDomain = "localhost"

// Handle is the diaspora* ID (username@domain).
func (m Me) Handle() string {
	d := m.Domain
	if d == "" {
		d = LocalDomain
	}
	return m.Username + "@" + d
}

// Exists reports whether the identity was created.
func (m Me) Exists() bool { return m.GUID != "" && m.Username != "" }

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Field reads a last-writer-wins field ("" when unset).
func Field(ctx context.Context, q querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM st_fields WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read field %s: %w", key, err)
	}
	return v, nil
}

func readMe(ctx context.Context, q querier) (Me, error) {
	var m Me
	rows, err := q.QueryContext(ctx, "SELECT key, value FROM st_fields WHERE key IN ('identity/guid', 'identity/username', 'identity/domain')")
	if err != nil {
		return m, fmt.Errorf("read identity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return m, fmt.Errorf("read identity: %w", err)
		}
		switch k {
		case "identity/guid":
			m.GUID = v
		case "identity/username":
			m.Username = v
		case "identity/domain":
			m.Domain = v
		}
	}
	if err := rows.Err(); err != nil {
		return m, err
	}
	former, err := Members(ctx, q, FormerIDsSet)
	if err != nil {
		return m, fmt.Errorf("read identity: %w", err)
	}
	for _, h := range former {
		if h != m.Handle() {
			m.Former = append(m.Former, h)
		}
	}
	return m, nil
}

// Me reads the identity inside a transaction.
func (tx *Tx) Me() (Me, error) {
	if tx.cache != nil && tx.cache.me != nil {
		return *tx.cache.me, nil
	}
	m, err := readMe(tx.ctx, tx)
	if err == nil && tx.cache != nil {
		tx.cache.me = &m
		tx.me = &m // for the next flushes of this transaction (flush drops it when the identity changes)
	}
	return m, err
}

// Me reads the identity.
func (db *DB) Me(ctx context.Context) (Me, error) { return readMe(ctx, db.R) }
