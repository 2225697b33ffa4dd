package pod

import (
	"context"
	"crypto/rand"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"seedpod/pod/store"
)

// Backups: a consistent copy of the pod database taken while the pod
// runs. SQLite's VACUUM INTO writes the snapshot one read transaction
// sees (WAL readers do not block the writer, nor it them), compacted, to a
// new file; the file is synced and renamed into place, so a crash leaves
// either the old file or the whole new one, never half a backup.
//
// The copy is the pod: it opens with Open like the original, and it holds
// what the database holds — the identity key included, and this device's
// op-log key and epoch (restoring it next to a running original would fork
// that log; sync.md wants a new epoch after a restore). The media store
// (<data>/media) is not in it: the photos zip export carries the pictures.

// Backup phases.
const PhaseSnapshot = "snapshot"

// BackupReport says what Backup wrote.
type BackupReport struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// Backup writes a snapshot of the database to path (replacing a file
// there), through a temporary file beside it.
func (p *Pod) Backup(ctx context.Context, path string, progress ProgressFunc) (BackupReport, error) {
	var rep BackupReport
	abs, err := filepath.Abs(path)
	if err != nil {
		return rep, fmt.Errorf("%w: backup path %q: %v", ErrInvalid, path, err)
	}
	if same, err := sameFile(abs, p.db.Path()); err != nil {
		return rep, err
	} else if same {
		return rep, fmt.Errorf("%w: the backup cannot replace the pod's own database", ErrInvalid)
	}
	dir := filepath.Dir(abs)
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+filepath.Base(abs)+".tmp-"+hex.EncodeToString(rnd[:]))
	defer os.Remove(tmp) // gone once renamed; a failed run leaves nothing
	progress.report(PhaseSnapshot, 0, 1)
	if err := p.vacuumInto(ctx, tmp); err != nil {
		return rep, err
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return rep, fmt.Errorf("backup: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return rep, fmt.Errorf("backup: sync %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: some file systems refuse to sync a directory
		d.Close()
	}
	progress.report(PhaseSnapshot, 1, 1)
	rep = BackupReport{Path: abs, Size: st.Size()}
	p.logger.Info("backup written", "path", abs, "bytes", rep.Size)
	return rep, nil
}

// vacuumInto runs VACUUM INTO on a connection of the reader pool. Readers
// are query_only, which forbids VACUUM INTO too, so this one connection
// allows writes for the statement and is then discarded rather than
// handed back to the pool.
func (p *Pod) vacuumInto(ctx context.Context, path string) error {
	conn, err := p.db.R.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer conn.Close()
	defer conn.Raw(func(any) error { return driver.ErrBadConn }) // never reused
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("backup: VACUUM INTO %s: %w", path, err)
	}
	// The copy, once restored, goes on in a new epoch of this device's
	// log (store.MarkRestored): by then the original may have gone on
	// from the same head, and two different ops at one sequence number of
	// one log are a fork every peer would refuse.
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS snapshot", path); err != nil {
		return fmt.Errorf("backup: open the snapshot %s: %w", path, err)
	}
	_, err = conn.ExecContext(ctx, strings.Replace(store.MarkRestored, "UPDATE device", "UPDATE snapshot.device", 1))
	if _, derr := conn.ExecContext(ctx, "DETACH DATABASE snapshot"); err == nil && derr != nil {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("backup: mark the snapshot %s as a restored copy: %w", path, err)
	}
	return nil
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("backup path: %w", err)
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, nil
	}
	return os.SameFile(sa, sb), nil
}
