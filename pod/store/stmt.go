package store

import (
	"context"
	"database/sql"
)

// Statement reuse. modernc.org/sqlite has no statement cache, and
// database/sql prepares a query string on every call: SQL parsing was a
// quarter of the apply path (BenchmarkApply profile, 2026-11). A Tx keeps
// the statements it prepared for its lifetime, so a batch of 500 ops
// parses each query once; database/sql closes them at commit or rollback.
// The projections call tx.ExecContext and friends and get this for free.

// maxTxStmts bounds the cache: queries are constant strings in the code,
// but a few are assembled (table names), and a cache must not grow without
// bound.
const maxTxStmts = 256

func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if s, ok := tx.stmts[query]; ok {
		return s
	}
	if len(tx.stmts) >= maxTxStmts {
		return nil
	}
	s, err := tx.Tx.PrepareContext(ctx, query)
	if err != nil {
		return nil // the unprepared call below reports the error
	}
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[query] = s
	return s
}

// ExecContext runs a statement in the transaction, prepared once per Tx.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := tx.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction, prepared once per Tx.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := tx.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return tx.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row query in the transaction, prepared once per Tx.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := tx.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}
