package pod

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"seedpod/pod/datadir"
	"seedpod/pod/store"
)

func TestOpenStatusClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p, err := Open(context.Background(), Config{DataDir: dir, Version: "1.2.3", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(90 * time.Second)
	st, err := p.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Status{Version: "1.2.3", DataDir: dir, SchemaVersion: store.LatestVersion(),
		StartedAt: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), UptimeSeconds: 90}
	if st != want {
		t.Errorf("Status() = %+v, want %+v", st, want)
	}
	if _, err := os.Stat(filepath.Join(dir, DatabaseName)); err != nil {
		t.Errorf("database file: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed means released: it opens again.
	p, err = Open(context.Background(), Config{DataDir: dir})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	p.Close()
}

func TestOpenUsesXDGDataHome(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_DATA_HOME", xdg)
	p, err := Open(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if want := filepath.Join(xdg, "seedpod"); p.DataDir() != want {
		t.Errorf("DataDir() = %q, want %q", p.DataDir(), want)
	}
}

func TestOpenRefusals(t *testing.T) {
	t.Run("locked", func(t *testing.T) {
		dir := t.TempDir()
		p, err := Open(context.Background(), Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		db := filepath.Join(dir, DatabaseName)
		before, _ := os.ReadFile(db)
		if _, err := Open(context.Background(), Config{DataDir: dir}); !errors.Is(err, datadir.ErrLocked) {
			t.Fatalf("second Open: err = %v, want ErrLocked", err)
		}
		after, _ := os.ReadFile(db)
		if len(before) == 0 || string(before) != string(after) {
			t.Error("the refused second Open changed the database file")
		}
		if _, err := p.Status(context.Background()); err != nil {
			t.Errorf("the first pod broke after a refused second Open: %v", err)
		}
	})
	t.Run("foreign database releases the lock", func(t *testing.T) {
		dir := t.TempDir()
		junk := []byte("this is somebody's spreadsheet, not a database, and longer than one hundred bytes for sure........")
		os.WriteFile(filepath.Join(dir, DatabaseName), junk, 0o600)
		if _, err := Open(context.Background(), Config{DataDir: dir}); !errors.Is(err, store.ErrNotSQLite) {
			t.Fatalf("Open: err = %v, want ErrNotSQLite", err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, DatabaseName))
		if string(b) != string(junk) {
			t.Error("refused database file was modified")
		}
		// The failed Open released the directory lock.
		d, err := datadir.Open(dir)
		if err != nil {
			t.Fatalf("lock after refused Open: %v", err)
		}
		d.Close()
	})
}
