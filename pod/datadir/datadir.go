// Package datadir owns Seedpod's data directory on disk: where it is (the XDG
// data home unless overridden), creating it with owner-only permissions,
// proving it is writable, and holding the lock that keeps a second Seedpod
// process out of it.
//
// It knows nothing about what is stored inside; pod/store owns the database.
// It must not import any other Seedpod package.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// AppName is the directory name under the XDG data home.
const AppName = "seedpod"

// lockName is the lock file inside the data dir. It holds the PID of the
// process that owns the directory, for humans; the lock itself is the OS
// advisory lock on the open file, which the kernel releases when the process
// dies, so a crash never leaves a stale lock behind.
const lockName = "seedpod.lock"

// ErrLocked means another process holds the data directory.
var ErrLocked = errors.New("data directory is in use by another Seedpod process")

// ErrNotWritable means the data directory exists but this process cannot write to it.
var ErrNotWritable = errors.New("data directory is not writable")

// Default returns the default data directory: $XDG_DATA_HOME/seedpod, or
// ~/.local/share/seedpod when XDG_DATA_HOME is unset or not absolute (as the
// XDG Base Directory spec requires relative values to be ignored).
func Default(getenv func(string) string) (string, error) {
	if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, AppName), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the data directory: no XDG_DATA_HOME and no home directory: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "share", AppName), nil
}

// Dir is an opened, locked data directory. Close releases the lock.
type Dir struct {
	path string
	lock *os.File
}

// Open resolves path to an absolute directory, creates it (mode 0700) if it
// does not exist, checks that it is writable and takes the process lock.
// Nothing inside the directory is modified except the lock file.
func Open(path string) (*Dir, error) {
	if path == "" {
		return nil, errors.New("open data directory: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open data directory %q: %w", path, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory %q: %w", abs, err)
		}
	case err != nil:
		return nil, fmt.Errorf("open data directory %q: %w", abs, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("open data directory %q: it exists and is not a directory", abs)
	}
	if err := checkWritable(abs); err != nil {
		return nil, err
	}
	lf, err := lockDir(abs)
	if err != nil {
		return nil, err
	}
	return &Dir{path: abs, lock: lf}, nil
}

// Path is the absolute path of the directory.
func (d *Dir) Path() string { return d.path }

// Join returns a path inside the directory.
func (d *Dir) Join(elem ...string) string {
	return filepath.Join(append([]string{d.path}, elem...)...)
}

// Close releases the lock. The lock file stays (removing it would race with
// a process that is about to lock it).
func (d *Dir) Close() error {
	if d.lock == nil {
		return nil
	}
	err := unlockFile(d.lock)
	if cerr := d.lock.Close(); err == nil {
		err = cerr
	}
	d.lock = nil
	if err != nil {
		return fmt.Errorf("release data directory lock in %q: %w", d.path, err)
	}
	return nil
}

// checkWritable creates and removes a probe file. Checking permission bits is
// not enough: read-only mounts, ACLs and root squash all lie to os.Stat.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrNotWritable, dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("%w: %q: remove probe file: %v", ErrNotWritable, dir, err)
	}
	return nil
}

func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %q: %w", name, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("%w: %q (lock file %s%s)", ErrLocked, dir, name, holder(name))
		}
		return nil, fmt.Errorf("lock %q: %w", name, err)
	}
	// Record our PID for whoever finds the directory locked. Failure here is
	// cosmetic; the lock is already held.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// holder reads the PID recorded in the lock file, for the error message.
func holder(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	pid := strings.TrimSpace(string(b))
	if _, err := strconv.Atoi(pid); err != nil {
		return ""
	}
	return ", held by PID " + pid
}
