// Package store owns Seedpod's SQLite database (modernc.org/sqlite, no cgo):
// the file format checks, the embedded numbered migrations, the connection
// pragmas, and the split into one writer connection and a pool of readers.
//
// Later issues add the op log tables, queries and FTS5 search here; the rule
// that stays is that only this package speaks SQL to the pod's database. It
// must not import net/http, the UI, or any Seedpod package above it.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ApplicationID marks a SQLite file as a Seedpod pod database ("SDPD").
// SQLite stores it in the file header (offset 68), so another application's
// database is recognised before we open it, and `file(1)` can tell too.
const ApplicationID int32 = 0x53445044

// busyTimeoutMS is how long a connection waits for a lock before failing with
// SQLITE_BUSY. The pod has one writer, so waits are short; 10 s covers a slow
// disk during a checkpoint without hanging the UI forever.
const busyTimeoutMS = 10000

// Errors that Open returns, each wrapped with the file and what was found.
var (
	ErrNotSQLite      = errors.New("not a SQLite database")
	ErrForeignApp     = errors.New("database belongs to another application")
	ErrSchemaTooNew   = errors.New("database schema is newer than this Seedpod")
	ErrBadMigrations  = errors.New("invalid embedded migrations")
	errMigrationFails = errors.New("migration failed")
)

// DB is the opened pod database.
type DB struct {
	// W is the single writer connection. All writes go through it, so SQLite
	// never sees two writers and never answers SQLITE_BUSY to one of ours.
	W *sql.DB
	// R is the reader pool. Its connections are query_only; in WAL mode they
	// read a consistent snapshot while the writer works.
	R *sql.DB

	path    string
	appID   int32
	version int
	applied []int
}

// Options tune Open. The zero value is what the pod uses.
type Options struct {
	// Readers is the size of the reader pool; 0 means max(4, GOMAXPROCS).
	Readers int
	// Schema is the database's schema; nil means the pod's own. The relay
	// keeps its own database with its own schema and application_id.
	Schema *Schema
}

// Schema is what makes a database an application's: its application_id and
// its numbered migrations (a directory of NNNN_name.sql files).
type Schema struct {
	AppID      int32
	Migrations fs.FS
	Dir        string
}

// Open opens (creating if needed) the pod database at path and brings its
// schema up to date with the embedded migrations.
//
// Before SQLite touches the file, its header is read: a file that is not a
// SQLite database, belongs to another application, or carries a schema newer
// than this binary is refused and left byte-for-byte as it was.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	schema := opts.Schema
	if schema == nil {
		schema = &Schema{AppID: ApplicationID, Migrations: migrationFiles, Dir: "migrations"}
	}
	migs, err := loadMigrations(schema.Migrations, schema.Dir)
	if err != nil {
		return nil, err
	}
	return open(ctx, path, opts, schema.AppID, migs)
}

func open(ctx context.Context, path string, opts Options, appID int32, migs []migration) (*DB, error) {
	latest := len(migs)
	h, err := readHeader(path)
	if err != nil {
		return nil, err
	}
	if err := h.check(path, latest, appID); err != nil {
		return nil, err
	}

	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	db := &DB{W: w, path: path, appID: appID}
	if err := db.migrate(ctx, migs); err != nil {
		w.Close()
		return nil, err
	}

	n := opts.Readers
	if n <= 0 {
		n = max(4, runtime.GOMAXPROCS(0))
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open reader pool for %q: %w", path, err)
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open reader pool for %q: %w", path, err)
	}
	db.R = r
	return db, nil
}

// dsn builds the connection string. Pragmas live in the DSN so that every
// connection the pool opens gets them, not only the first. busy_timeout is
// applied by the driver before journal_mode, so switching to WAL never fails
// with SQLITE_BUSY while another process holds a read lock.
func dsn(path string, readOnly bool) string {
	q := []string{
		fmt.Sprintf("_busy_timeout=%d", busyTimeoutMS),
		"_journal_mode=WAL",
		"_foreign_keys=1",
		// FULL fsyncs the WAL on every commit: a committed op survives power
		// loss, not only a crash (notes/performance-and-security.md).
		"_synchronous=FULL",
	}
	if readOnly {
		q = append(q, "_query_only=1", "_txlock=deferred")
	} else {
		// BEGIN IMMEDIATE takes the write lock up front, so a transaction
		// never has to upgrade a read lock and fail halfway with SQLITE_BUSY.
		q = append(q, "_txlock=immediate")
	}
	return "file:" + escapePath(path) + "?" + strings.Join(q, "&")
}

// escapePath keeps '?' and '#' in a file name from being read as URI syntax.
func escapePath(p string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return r.Replace(p)
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// SchemaVersion is the schema version after Open's migrations.
func (db *DB) SchemaVersion() int { return db.version }

// Applied lists the migrations this Open applied (empty when the schema was
// already current).
func (db *DB) Applied() []int { return append([]int(nil), db.applied...) }

// Close closes the reader pool and then the writer. Closing the last
// connection checkpoints the WAL into the main file.
func (db *DB) Close() error {
	var errs []error
	if db.R != nil {
		errs = append(errs, db.R.Close())
	}
	if db.W != nil {
		errs = append(errs, db.W.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close database %q: %w", db.path, err)
	}
	return nil
}

// header is what Open needs from the 100-byte SQLite file header.
type header struct {
	exists        bool
	applicationID int32
	userVersion   int32
	// walPending: a non-empty -wal file sits beside the database, so its
	// committed pages (page 1 with the header among them) may be newer than
	// the main file — as while another process has it open.
	walPending bool
}

// readHeader reads the header of path without opening it as a database, so a
// file we are going to refuse is never modified (not even its journal mode).
func readHeader(path string) (header, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return header{}, nil
	}
	if err != nil {
		return header{}, fmt.Errorf("read database header of %q: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return header{}, fmt.Errorf("read database header of %q: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return header{}, fmt.Errorf("%w: %q is not a regular file", ErrNotSQLite, path)
	}
	if fi.Size() == 0 {
		// SQLite treats an empty file as an empty database; so do we.
		return header{}, nil
	}
	var b [100]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return header{}, fmt.Errorf("%w: %q is too short for a SQLite header (%d bytes)", ErrNotSQLite, path, fi.Size())
	}
	if string(b[:16]) != "SQLite format 3\x00" {
		return header{}, fmt.Errorf("%w: %q does not start with the SQLite magic string", ErrNotSQLite, path)
	}
	be32 := func(off int) int32 {
		return int32(uint32(b[off])<<24 | uint32(b[off+1])<<16 | uint32(b[off+2])<<8 | uint32(b[off+3]))
	}
	wal, err := os.Stat(path + "-wal")
	pending := err == nil && wal.Size() > 0
	return header{exists: true, userVersion: be32(60), applicationID: be32(68), walPending: pending}, nil
}

// check refuses a database that is not ours or is newer than we are.
func (h header) check(path string, latest int, appID int32) error {
	if !h.exists {
		return nil
	}
	if h.walPending && h.applicationID == 0 && h.userVersion == 0 {
		// A database still being created, or open elsewhere before its
		// first checkpoint: the real header is in the WAL. migrate checks
		// it through SQLite, before anything is written.
		return nil
	}
	if h.applicationID != appID {
		return fmt.Errorf("%w: %q has application_id %#x, expected %#x; refusing to touch it",
			ErrForeignApp, path, uint32(h.applicationID), uint32(appID))
	}
	if int(h.userVersion) > latest {
		return fmt.Errorf("%w: %q has schema version %d, this binary knows up to %d; upgrade Seedpod to open it",
			ErrSchemaTooNew, path, h.userVersion, latest)
	}
	return nil
}
