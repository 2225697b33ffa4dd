package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// benchCommit measures one small write transaction on the writer, the shape
// of every op the pod will append.
func benchCommit(b *testing.B, w *sql.DB) {
	ctx := context.Background()
	if _, err := w.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO bench (v) VALUES (?)", "op"); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitFull is the pod's writer as configured: WAL, synchronous=FULL.
func BenchmarkCommitFull(b *testing.B) {
	db, err := Open(context.Background(), filepath.Join(b.TempDir(), "pod.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	benchCommit(b, db.W)
}

// BenchmarkCommitNormal is the baseline for the cost of durability: the same
// connection string with synchronous=NORMAL (no fsync per commit).
func BenchmarkCommitNormal(b *testing.B) {
	path := filepath.Join(b.TempDir(), "pod.db")
	w, err := sql.Open("sqlite", strings.Replace(dsn(path, false), "_synchronous=FULL", "_synchronous=NORMAL", 1))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	benchCommit(b, w)
}

// BenchmarkOpenExisting measures opening an up-to-date database: header
// check, pragmas, migration check and the reader pool.
func BenchmarkOpenExisting(b *testing.B) {
	path := filepath.Join(b.TempDir(), "pod.db")
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	db.Close()
	b.ReportAllocs()
	for b.Loop() {
		db, err := Open(context.Background(), path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}
