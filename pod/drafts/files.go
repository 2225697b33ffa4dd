package drafts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// File names and crash-safe file operations of the folder.

// IsDraftName reports whether a name in the folder is a draft file: a
// Markdown file (.md or .markdown, any case) that is not hidden and not an
// editor's or Seedpod's side file. Everything else editors leave behind is
// ignored by this rule alone: vim's swap files (.x.md.swp) and write probe
// (4913), backups (x.md~), emacs' lock (.#x.md) and autosave (#x.md#),
// temporary files (x.md.tmp, .x.md.seedpod-*), and conflict copies
// (x.conflict-1a2b3c4d.md), which are views of a draft's other versions.
// A name that is not valid UTF-8 is no draft's either.
func IsDraftName(name string) bool {
	if name == "" || strings.ContainsAny(name, "/\\\x00") || len(name) > 255 {
		return false
	}
	// The index (JSON) cannot keep a name that is not UTF-8: it would come
	// back another name after a restart.
	if !utf8.ValidString(name) {
		return false
	}
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "#") || strings.HasPrefix(name, "~") || strings.HasSuffix(name, "~") {
		return false
	}
	ext := strings.ToLower(filepath.Ext(name))
	if ext != ".md" && ext != ".markdown" {
		return false
	}
	if len(name) == len(ext) {
		return false
	}
	_, ok := conflictOf(name)
	return !ok
}

// conflictInfix names the conflict copies: "<base>.conflict-<short>.md".
const conflictInfix = ".conflict-"

// conflictName is the conflict copy of name for a version.
func conflictName(name, version string) string {
	ext := filepath.Ext(name)
	return strings.TrimSuffix(name, ext) + conflictInfix + shortHash(version) + ext
}

// conflictOf reports whether name is a conflict copy, and of which file
// base name (without extension).
func conflictOf(name string) (base string, ok bool) {
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	i := strings.LastIndex(stem, conflictInfix)
	if i <= 0 {
		return "", false
	}
	short := stem[i+len(conflictInfix):]
	if len(short) != 8 || strings.Trim(short, "0123456789abcdef") != "" {
		return "", false
	}
	return stem[:i], true
}

// shortHash is 8 hex digits of the SHA-256 of s.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// hashBytes is the hex SHA-256 of b: how the index remembers a file.
func hashBytes(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// maxSlug bounds the part of a new file's name taken from the text.
const maxSlug = 48

// Slug makes a file name stem from a draft's first line: lowercase letters
// and digits (accents dropped, other scripts kept) joined by '-', at most
// maxSlug bytes, "draft" when nothing is left.
func Slug(text string) string {
	line := ""
	for l := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(l) != "" {
			line = l
			break
		}
	}
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(line) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue // a combining accent: é → e
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			r = unicode.ToLower(r)
			if b.Len()+len(string(r)) > maxSlug {
				return finishSlug(b.String())
			}
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	return finishSlug(b.String())
}

func finishSlug(s string) string {
	s = strings.Trim(s, "-")
	if s == "" {
		return "draft"
	}
	return s
}

// fsyncDir makes a rename or removal in dir durable. Some file systems
// refuse to sync a directory; that is not an error worth failing for.
func fsyncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

// tempPrefix starts Seedpod's temporary files: hidden, so never drafts.
const tempPrefix = ".seedpod-"

// writeTemp writes data to a new hidden temporary file in dir, synced to
// disk, with the mode perm; it returns its path.
func writeTemp(dir string, data []byte, perm fs.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*.tmp")
	if err != nil {
		return "", fmt.Errorf("create a temporary file in %s: %w", dir, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(perm)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", tmp, werr)
	}
	return tmp, nil
}

// writeFileAtomic replaces (or creates) path with data: a temporary file in
// the same directory, synced, renamed over path, and the directory synced.
// A reader sees the old file or the new one, never half of either; a crash
// leaves at most a hidden temporary file.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", path, err)
	}
	fsyncDir(dir)
	return nil
}

// numberedName is the i-th name tried for a file that must not replace
// another: name itself, then "stem-2.ext", "stem-3.ext", …
func numberedName(name string, i int) string {
	if i <= 1 {
		return name
	}
	ext := filepath.Ext(name)
	return strings.TrimSuffix(name, ext) + "-" + strconv.Itoa(i) + ext
}

// createNew writes data to a new file dir/name, never replacing one: when
// the name is taken it tries name-2, name-3, … (up to 1,000) and returns
// the name it used. The file appears whole (hard link of a synced
// temporary file); on file systems without hard links it is created
// exclusively and written in place.
func createNew(dir, name string, data []byte, perm fs.FileMode) (string, error) {
	tmp, err := writeTemp(dir, data, perm)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	for i := 1; i <= 1000; i++ {
		n := numberedName(name, i)
		dst := filepath.Join(dir, n)
		err := os.Link(tmp, dst)
		if err == nil {
			fsyncDir(dir)
			return n, nil
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		// No hard links here (FAT, some network file systems): create
		// exclusively, which still never replaces a file.
		if err := writeExclusive(dst, data, perm); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return "", err
		}
		fsyncDir(dir)
		return n, nil
	}
	return "", fmt.Errorf("create %s in %s: 1,000 names like it are taken", name, dir)
}

func writeExclusive(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// moveNoReplace moves src into the directory dstDir under its own name (or
// name-2, … when taken), never replacing a file there, and returns the new
// path. The move is a hard link then an unlink (atomic on one file system:
// the file is always in at least one place); without hard links the file
// is copied exclusively, synced, and then removed.
func moveNoReplace(src, dstDir string) (string, error) {
	if err := os.MkdirAll(dstDir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dstDir, err)
	}
	name := filepath.Base(src)
	for i := 1; i <= 1000; i++ {
		n := numberedName(name, i)
		dst := filepath.Join(dstDir, n)
		err := os.Link(src, dst)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			data, rerr := readCapped(src, MaxFileSize)
			if rerr != nil {
				return "", rerr
			}
			fi, serr := os.Stat(src)
			perm := fs.FileMode(0o644)
			if serr == nil {
				perm = fi.Mode().Perm()
			}
			if werr := writeExclusive(dst, data, perm); werr != nil {
				if errors.Is(werr, fs.ErrExist) {
					continue
				}
				return "", fmt.Errorf("move %s to %s: %w", src, dstDir, werr)
			}
		}
		fsyncDir(dstDir)
		if err := os.Remove(src); err != nil {
			return dst, fmt.Errorf("moved %s to %s but could not remove it: %w", src, dst, err)
		}
		fsyncDir(filepath.Dir(src))
		return dst, nil
	}
	return "", fmt.Errorf("move %s to %s: 1,000 names like it are taken", src, dstDir)
}

// errTooLarge: a file is above its size cap.
var errTooLarge = errors.New("file too large")

// openRead opens path for reading without blocking on a named pipe (or
// a device) found in place of a file: its caller's stat refuses it.
func openRead(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|oNonblock, 0)
}

// readCapped reads a regular file of at most limit bytes.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%w: %s has %d bytes, at most %d", errTooLarge, path, fi.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s grew past %d bytes", errTooLarge, path, limit)
	}
	return b, nil
}

// stamp is what a stat says about a file: when it changes, the file did.
type stamp struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
	Ino   uint64 `json:"ino,omitempty"`
}

func stampOf(fi fs.FileInfo) stamp {
	return stamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano(), Ino: inode(fi)}
}

// errUnstable: the file changed while it was read.
var errUnstable = errors.New("the file changed while it was read")

// readStable reads a draft file whole, and only a file that did not change
// while it was read: the stat before, the open file's stat after, and the
// number of bytes read must agree. A file modified less than quiet ago is
// read again after quiet has passed, until two reads agree (up to tries
// times), so a writer that pauses for less than quiet is never caught
// half-way. A missing file is fs.ErrNotExist; a non-regular one (a
// directory, a symbolic link) is ignored as missing.
func readStable(path string, quiet time.Duration, tries int, now func() time.Time) ([]byte, stamp, error) {
	var prev []byte
	var prevSt stamp
	for range max(tries, 1) {
		fi, err := os.Lstat(path)
		if err != nil {
			return nil, stamp{}, err
		}
		if !fi.Mode().IsRegular() {
			return nil, stamp{}, fs.ErrNotExist
		}
		before := stampOf(fi)
		if fi.Size() > MaxFileSize {
			return nil, before, fmt.Errorf("%w: %s has %d bytes; a draft file has at most %d (1 MiB)", errTooLarge, filepath.Base(path), fi.Size(), MaxFileSize)
		}
		data, after, err := readOnce(path)
		if err != nil {
			return nil, before, err
		}
		if before != after || int64(len(data)) != after.Size {
			prev = nil
			time.Sleep(quiet / 4)
			continue
		}
		age := now().Sub(time.Unix(0, after.MTime))
		if age >= quiet && age >= 0 {
			return data, after, nil
		}
		if prev != nil && prevSt == after && string(prev) == string(data) {
			return data, after, nil
		}
		prev, prevSt = data, after
		// At most quiet: a modification time in the future (a clock
		// that was wrong, an unpacked archive) must not make this wait
		// until then with the folder's lock held; two equal reads a quiet
		// apart do.
		time.Sleep(min(max(quiet-age, quiet/4), quiet))
	}
	return nil, stamp{}, errUnstable
}

func readOnce(path string) ([]byte, stamp, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, stamp{}, err
	}
	defer f.Close()
	// The name may have become something else since the caller's Lstat
	// (a named pipe would block the read): only a regular file is read.
	if fi, err := f.Stat(); err != nil {
		return nil, stamp{}, err
	} else if !fi.Mode().IsRegular() {
		return nil, stamp{}, fs.ErrNotExist
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, stamp{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, stamp{}, err
	}
	return data, stampOf(fi), nil
}
