package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// The statements run under tx.ctx, which cannot end (newTx); once the
// transaction's own context has ended, a statement fails with its error
// (context.Canceled, not database/sql's "statement is closed" from the
// rollback that follows the cancellation).

// ExecContext runs a statement in the transaction, prepared once per Tx.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := tx.ended(); err != nil {
		return nil, err
	}
	if s := tx.stmt(ctx, query); s != nil {
		r, err := s.ExecContext(ctx, args...)
		return r, tx.why(err)
	}
	r, err := tx.Tx.ExecContext(ctx, query, args...)
	return r, tx.why(err)
}

// QueryContext runs a query in the transaction, prepared once per Tx.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := tx.ended(); err != nil {
		return nil, err
	}
	if s := tx.stmt(ctx, query); s != nil {
		r, err := s.QueryContext(ctx, args...)
		return r, tx.why(err)
	}
	r, err := tx.Tx.QueryContext(ctx, query, args...)
	return r, tx.why(err)
}

// QueryRowContext runs a one-row query in the transaction, prepared once per Tx.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if tx.ended() != nil {
		// database/sql answers with the ended context's error.
		return tx.Tx.QueryRowContext(tx.parent, query, args...)
	}
	if s := tx.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}

// ended is the transaction's context's error, if it ended.
func (tx *Tx) ended() error {
	if tx.parent == nil {
		return nil
	}
	return tx.parent.Err()
}

// why names the ended context as the cause of a statement's failure.
func (tx *Tx) why(err error) error {
	if err == nil {
		return nil
	}
	if cause := tx.ended(); cause != nil && !errors.Is(err, cause) {
		return fmt.Errorf("%w (%v)", cause, err)
	}
	return err
}
