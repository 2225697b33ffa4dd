package media

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Store is a directory of content-addressed blobs. A blob's name is the
// lowercase hex SHA-256 of its bytes, and it lives at
//
//	<dir>/<first two hex digits>/<all 64 hex digits>
//
// so no directory grows past 1/256 of the blobs. A blob is written to a
// temporary file in its own directory, fsynced, renamed into place and the
// directory fsynced, so after a crash it is either absent or complete. A
// crash mid-write can leave a ".tmp-*" file behind; names that start with a
// dot are never blob names.
//
// Blobs are immutable, so a Store needs no locking: concurrent Puts of the
// same bytes both rename identical files into place.
type Store struct {
	dir string
}

// ErrBadHash means a blob name is not 64 lowercase hex digits. It is
// checked before the name touches the file system, so no name can reach
// outside the store.
var ErrBadHash = errors.New("media: blob name is not a lowercase hex SHA-256")

// Open opens the store in dir, creating dir (owner-only) if needed.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("media: store directory not set")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("media: store directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("media: creating store: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("media: opening store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("media: store %s is not a directory", abs)
	}
	return &Store{dir: abs}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// validHash reports whether h is 64 lowercase hex digits.
func validHash(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Path returns where the blob named sha lives (whether or not it exists).
func (s *Store) Path(sha string) (string, error) {
	if !validHash(sha) {
		return "", fmt.Errorf("%w: %q", ErrBadHash, sha)
	}
	return filepath.Join(s.dir, sha[:2], sha), nil
}

// Put stores data and returns its name. Storing bytes that are already
// there writes nothing.
func (s *Store) Put(data []byte) (string, error) {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	path, _ := s.Path(sha)
	// A file of the right size under the right name is the same blob; a
	// wrong size (damage outside our control) is replaced.
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(len(data)) {
		return sha, nil
	}
	sub := filepath.Dir(path)
	if err := ensureDir(sub); err != nil {
		return "", fmt.Errorf("media: creating %s: %w", sub, err)
	}
	if err := writeFileDurably(sub, filepath.Base(path), data); err != nil {
		return "", fmt.Errorf("media: writing blob %s: %w", sha, err)
	}
	return sha, nil
}

// Open opens the blob named sha for reading. A missing blob gives an error
// that wraps fs.ErrNotExist.
func (s *Store) Open(sha string) (io.ReadSeekCloser, error) {
	path, err := s.Path(sha)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: opening blob: %w", err)
	}
	return f, nil
}

// Has reports whether the blob named sha is stored.
func (s *Store) Has(sha string) (bool, error) {
	path, err := s.Path(sha)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("media: checking blob: %w", err)
	}
	return fi.Mode().IsRegular(), nil
}

// Delete removes the blob named sha. Deleting a missing blob is not an
// error, so a retried delete succeeds.
func (s *Store) Delete(sha string) error {
	path, err := s.Path(sha)
	if err != nil {
		return err
	}
	err = os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("media: deleting blob: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("media: deleting blob: %w", err)
	}
	return nil
}

// ensureDir creates dir (owner-only) if it is missing and makes its entry
// durable in the parent.
func ensureDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// writeFileDurably writes dir/name so that after a crash it is either
// absent or complete: a temporary file, fsync, rename, fsync of the
// directory.
func writeFileDurably(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so a rename or removal in it survives a
// crash. Windows cannot fsync a directory (opening one for writing is
// refused) and NTFS journals the rename itself, so there it does nothing.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
