package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

func openTest(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenCreatesWithPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pod.db")
	db := openTest(t, path)

	var all []int
	for v := 1; v <= LatestVersion(); v++ {
		all = append(all, v)
	}
	if got := db.Applied(); LatestVersion() < 2 || !slices.Equal(got, all) {
		t.Errorf("Applied() = %v, want %v", got, all)
	}
	if db.SchemaVersion() != LatestVersion() {
		t.Errorf("SchemaVersion() = %d, want %d", db.SchemaVersion(), LatestVersion())
	}
	ctx := context.Background()
	for _, c := range []struct {
		pool   *sql.DB
		pragma string
		want   string
	}{
		{db.W, "application_id", strconv.Itoa(int(ApplicationID))},
		{db.W, "user_version", strconv.Itoa(LatestVersion())},
		{db.W, "journal_mode", "wal"},
		{db.W, "foreign_keys", "1"},
		{db.W, "synchronous", "2"},
		{db.W, "busy_timeout", "10000"},
		{db.R, "journal_mode", "wal"},
		{db.R, "foreign_keys", "1"},
		{db.R, "query_only", "1"},
		{db.R, "busy_timeout", "10000"},
	} {
		var got string
		if err := c.pool.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %q, want %q", c.pragma, got, c.want)
		}
	}
	if n := db.W.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", n)
	}
	if _, err := db.R.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('x', 'y')"); err == nil {
		t.Error("insert through the reader pool succeeded; readers must be query_only")
	}
}

func TestMigrationsRunOnceAndAreIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pod.db")
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var created string
	if err := db.R.QueryRow("SELECT value FROM meta WHERE key = 'created_at'").Scan(&created); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 3 {
		db := openTest(t, path)
		if got := db.Applied(); len(got) != 0 {
			t.Errorf("reopen %d applied %v, want nothing", i, got)
		}
		var n int
		var again string
		if err := db.R.QueryRow("SELECT count(*), max(value) FROM meta WHERE key = 'created_at'").Scan(&n, &again); err != nil {
			t.Fatal(err)
		}
		if n != 1 || again != created {
			t.Errorf("reopen %d: created_at rows = %d (%q), want the one row %q", i, n, again, created)
		}
		db.Close()
	}
}

// Migrations added later run on an old database, each exactly once, and a
// failing one leaves the schema at the last whole step.
func TestMigrationUpgradeAndFailureRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pod.db")
	ctx := context.Background()
	m1 := migration{1, "0001_a.sql", "CREATE TABLE a (x INTEGER) STRICT;"}
	m2bad := migration{2, "0002_b.sql", "CREATE TABLE b (x INTEGER) STRICT; INSERT INTO a VALUES (1); SELECT * FROM nowhere;"}
	m2 := migration{2, "0002_b.sql", "CREATE TABLE b (x INTEGER) STRICT; INSERT INTO a VALUES (1);"}

	db, err := open(ctx, path, Options{}, ApplicationID, []migration{m1})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = open(ctx, path, Options{}, ApplicationID, []migration{m1, m2bad})
	if !errors.Is(err, errMigrationFails) || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("open with a failing migration: err = %v, want a migration failure naming 0002_b.sql", err)
	}
	db, err = open(ctx, path, Options{}, ApplicationID, []migration{m1})
	if err != nil {
		t.Fatalf("reopen after failed migration: %v", err)
	}
	var rows, tables int
	db.R.QueryRow("SELECT count(*) FROM a").Scan(&rows)
	db.R.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'b'").Scan(&tables)
	if rows != 0 || tables != 0 || db.SchemaVersion() != 1 {
		t.Errorf("after failed migration: rows in a = %d, table b exists = %d, version = %d; want 0, 0, 1", rows, tables, db.SchemaVersion())
	}
	db.Close()

	db, err = open(ctx, path, Options{}, ApplicationID, []migration{m1, m2})
	if err != nil {
		t.Fatal(err)
	}
	if got := db.Applied(); !slices.Equal(got, []int{2}) {
		t.Errorf("upgrade applied %v, want [2]", got)
	}
	db.R.QueryRow("SELECT count(*) FROM a").Scan(&rows)
	if rows != 1 {
		t.Errorf("migration 2 ran %d times, want once", rows)
	}
	db.Close()
}

// makeSQLite writes a rollback-journal SQLite file with the given header
// values, as another program would.
func makeSQLite(t *testing.T, path string, appID, userVersion int, withTable bool) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_journal_mode=DELETE")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	stmts := []string{
		"PRAGMA application_id = " + strconv.Itoa(appID),
		"PRAGMA user_version = " + strconv.Itoa(userVersion),
	}
	if withTable {
		stmts = append(stmts, "CREATE TABLE notes (body TEXT)", "INSERT INTO notes VALUES ('precious')")
	}
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestOpenRefusesWithoutTouchingTheFile(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  error
	}{
		{"random bytes", func(t *testing.T, p string) {
			os.WriteFile(p, bytes.Repeat([]byte("not a database\n"), 20), 0o600)
		}, ErrNotSQLite},
		{"shorter than a header", func(t *testing.T, p string) {
			os.WriteFile(p, []byte("SQLite format 3\x00"), 0o600)
		}, ErrNotSQLite},
		{"another application's database", func(t *testing.T, p string) {
			makeSQLite(t, p, 0x12345678, 3, true)
		}, ErrForeignApp},
		{"plain SQLite database without application_id", func(t *testing.T, p string) {
			makeSQLite(t, p, 0, 0, true)
		}, ErrForeignApp},
		{"schema newer than the binary", func(t *testing.T, p string) {
			makeSQLite(t, p, int(ApplicationID), 99, true)
		}, ErrSchemaTooNew},
		{"a directory where the file should be", func(t *testing.T, p string) {
			os.Mkdir(p, 0o700)
		}, ErrNotSQLite},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "pod.db")
			c.setup(t, path)
			before := snapshot(t, dir)

			db, err := Open(context.Background(), path, Options{})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded, want a refusal")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if after := snapshot(t, dir); !maps(before, after) {
				t.Errorf("directory changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// snapshot hashes every file in dir, so a test sees any byte written and any
// -wal or -shm file created.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.IsDir() {
			out[p] = [32]byte{1}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = sha256.Sum256(b)
		return nil
	})
	return out
}

func maps(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestLoadMigrationsValidates(t *testing.T) {
	cases := []struct {
		name  string
		files fstest.MapFS
		ok    bool
	}{
		{"contiguous", fstest.MapFS{"m/0001_a.sql": {}, "m/0002_b.sql": {}, "m/README": {}}, true},
		{"gap", fstest.MapFS{"m/0001_a.sql": {}, "m/0003_c.sql": {}}, false},
		{"duplicate number", fstest.MapFS{"m/0001_a.sql": {}, "m/0001_b.sql": {}}, false},
		{"starts at two", fstest.MapFS{"m/0002_a.sql": {}}, false},
		{"no number", fstest.MapFS{"m/init.sql": {}}, false},
		{"empty", fstest.MapFS{"m/README": {}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadMigrations(c.files, "m")
			if (err == nil) != c.ok {
				t.Fatalf("loadMigrations: err = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, ErrBadMigrations) {
				t.Errorf("err = %v, want ErrBadMigrations", err)
			}
		})
	}
	if _, err := embeddedMigrations(); err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
}

// One writer and many readers at once never surface SQLITE_BUSY: the writer
// is a single connection and WAL readers never block it.
func TestConcurrentReadersAndWriter(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "pod.db"))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				_, err := db.W.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, 'v')", strconv.Itoa(w*1000+i))
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				var n int
				if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM meta").Scan(&n); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int
	db.R.QueryRow("SELECT count(*) FROM meta").Scan(&n)
	if n != 201 {
		t.Errorf("rows = %d, want 201", n)
	}
}

// Another application's schema (the relay's) gets its own application_id,
// and each refuses the other's file.
func TestCustomSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	other := &Schema{AppID: 0x12345678, Dir: "m", Migrations: fstest.MapFS{
		"m/0001_a.sql": {Data: []byte("CREATE TABLE inbox (id INTEGER PRIMARY KEY) STRICT;")},
	}}
	db, err := Open(context.Background(), path, Options{Schema: other})
	if err != nil {
		t.Fatal(err)
	}
	var id int32
	db.R.QueryRow("PRAGMA application_id").Scan(&id)
	db.Close()
	if id != other.AppID {
		t.Fatalf("application_id = %#x, want %#x", id, other.AppID)
	}
	if _, err := Open(context.Background(), path, Options{}); !errors.Is(err, ErrForeignApp) {
		t.Fatalf("pod schema on the relay's file: %v", err)
	}
	if db, err = Open(context.Background(), path, Options{Schema: other}); err != nil {
		t.Fatalf("reopen with its own schema: %v", err)
	}
	db.Close()
}

// A second connection (another process, like `seedpod relay invite` beside
// a running relay) opens a database whose header still sits in the WAL.
func TestOpenWhileOpenElsewhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pod.db")
	first := openTest(t, path)
	if _, err := first.W.Exec("INSERT INTO meta (key, value) VALUES ('x', 'y')"); err != nil {
		t.Fatal(err)
	}
	second, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("second Open while the first is open: %v", err)
	}
	defer second.Close()
	var v string
	if err := second.R.QueryRow("SELECT value FROM meta WHERE key = 'x'").Scan(&v); err != nil || v != "y" {
		t.Fatalf("second connection reads %q, %v", v, err)
	}
	// A foreign database in the same state is still refused, untouched.
	other := filepath.Join(t.TempDir(), "other.db")
	raw, err := sql.Open("sqlite", "file:"+other+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	if _, err := raw.Exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('precious')"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), other, Options{}); !errors.Is(err, ErrForeignApp) {
		t.Fatalf("foreign WAL database: %v", err)
	}
}
