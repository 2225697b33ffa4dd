package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema step. Migrations are append-only: a
// released file is never edited, a fix is a new number.
type migration struct {
	version int
	name    string
	sql     string
}

// embeddedMigrations loads the pod's migrations/NNNN_name.sql.
func embeddedMigrations() ([]migration, error) {
	return loadMigrations(migrationFiles, "migrations")
}

// loadMigrations reads dir/NNNN_name.sql, which must be numbered 1, 2, 3…
// without gaps or duplicates.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrBadMigrations, dir, err)
	}
	var migs []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("%w: %q is not named NNNN_name.sql", ErrBadMigrations, name)
		}
		if v != len(migs)+1 {
			return nil, fmt.Errorf("%w: %q has number %d, expected %d (numbers must run 1, 2, 3… without gaps)",
				ErrBadMigrations, name, v, len(migs)+1)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("%w: read %s: %v", ErrBadMigrations, name, err)
		}
		migs = append(migs, migration{version: v, name: name, sql: string(b)})
	}
	if len(migs) == 0 {
		return nil, fmt.Errorf("%w: none found in %s", ErrBadMigrations, dir)
	}
	return migs, nil
}

// migrate checks the opened file once more (the header read before opening
// can be stale while a WAL holds newer pages) and applies every migration
// above the current user_version, each in its own IMMEDIATE transaction that
// also sets user_version and application_id, so a crash leaves the schema at
// a whole step.
func (db *DB) migrate(ctx context.Context, migs []migration) error {
	var appID, current int32
	if err := db.W.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("open database %q: read application_id: %w", db.path, err)
	}
	if err := db.W.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("open database %q: read user_version: %w", db.path, err)
	}
	fresh := appID == 0 && current == 0
	if !fresh {
		h := header{exists: true, applicationID: appID, userVersion: current}
		if err := h.check(db.path, len(migs), db.appID); err != nil {
			return err
		}
	}
	if fresh {
		// A database whose header says nothing yet must also hold nothing:
		// an empty file from someone else is fine to claim, a populated
		// one is not.
		var n int
		if err := db.W.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return fmt.Errorf("open database %q: inspect schema: %w", db.path, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: %q has %d schema objects but no Seedpod application_id; refusing to touch it",
				ErrForeignApp, db.path, n)
		}
	}
	for _, m := range migs[current:] {
		if err := db.apply(ctx, m); err != nil {
			return err
		}
		db.applied = append(db.applied, m.version)
	}
	db.version = len(migs)
	return nil
}

func (db *DB) apply(ctx context.Context, m migration) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: %s on %q: begin: %v", errMigrationFails, m.name, db.path, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("%w: %s on %q: %w", errMigrationFails, m.name, db.path, err)
	}
	// PRAGMA values cannot be bound parameters; both are integers we own.
	stmt := fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", m.version, db.appID)
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%w: %s on %q: set version: %w", errMigrationFails, m.name, db.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: %s on %q: commit: %w", errMigrationFails, m.name, db.path, err)
	}
	return nil
}

// LatestVersion is the schema version the embedded pod migrations reach.
func LatestVersion() int {
	migs, err := embeddedMigrations()
	if err != nil {
		return 0
	}
	return len(migs)
}
