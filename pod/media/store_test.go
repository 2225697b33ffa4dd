package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a picture, honestly")
	sum := sha256.Sum256(data)
	wantSHA := hex.EncodeToString(sum[:])

	sha, err := s.Put(data)
	if err != nil {
		t.Fatal(err)
	}
	if sha != wantSHA {
		t.Fatalf("Put named it %s, want %s", sha, wantSHA)
	}
	path, err := s.Path(sha)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, sha[:2], sha); path != want {
		t.Errorf("Path %s, want %s", path, want)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("blob mode %v, want 0600", fi.Mode().Perm())
		}
	}

	if ok, err := s.Has(sha); err != nil || !ok {
		t.Fatalf("Has = %v, %v", ok, err)
	}
	f, err := s.Open(sha)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(2, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %q", got)
	}

	// Idempotent: the same bytes again write nothing.
	before, _ := os.Stat(path)
	if sha2, err := s.Put(data); err != nil || sha2 != sha {
		t.Fatalf("second Put = %s, %v", sha2, err)
	}
	after, _ := os.Stat(path)
	if !os.SameFile(before, after) {
		t.Errorf("second Put replaced the file")
	}

	// A damaged blob (wrong size) is replaced by Put.
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(data); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, data) {
		t.Errorf("damaged blob not repaired: %q", b)
	}

	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("left %s behind", e.Name())
		}
	}

	if err := s.Delete(sha); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Has(sha); err != nil || ok {
		t.Fatalf("after Delete, Has = %v, %v", ok, err)
	}
	if err := s.Delete(sha); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := s.Open(sha); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a deleted blob: %v, want fs.ErrNotExist", err)
	}

	// Reopening finds what is there.
	sha, _ = s.Put(data)
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s2.Has(sha); !ok {
		t.Error("reopened store lost the blob")
	}
}

func TestStoreRefusesBadNames(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := strings.Repeat("ab", 32)
	for _, name := range []string{
		"",
		"../x",
		"../../../../etc/passwd",
		strings.Repeat("AB", 32),          // uppercase
		good[:63],                         // short
		good + "0",                        // long
		"../" + good[3:],                  // traversal of the right length
		good[:62] + "/x",                  // separator
		good[:62] + "\\x",                 // Windows separator
		"0g" + good[2:],                   // not hex
		good[:63] + "\x00",                // NUL
		strings.Repeat("é", 32),           // 64 bytes, not hex
		"ab/" + good[:61],                 // a subdirectory path
		filepath.Join(s.Dir(), good)[:64], // absolute
	} {
		if _, err := s.Path(name); !errors.Is(err, ErrBadHash) {
			t.Errorf("Path(%q) = %v, want ErrBadHash", name, err)
		}
		if _, err := s.Open(name); !errors.Is(err, ErrBadHash) {
			t.Errorf("Open(%q) = %v, want ErrBadHash", name, err)
		}
		if _, err := s.Has(name); !errors.Is(err, ErrBadHash) {
			t.Errorf("Has(%q) = %v, want ErrBadHash", name, err)
		}
		if err := s.Delete(name); !errors.Is(err, ErrBadHash) {
			t.Errorf("Delete(%q) = %v, want ErrBadHash", name, err)
		}
	}
	if _, err := s.Path(good); err != nil {
		t.Errorf("Path(%q): %v", good, err)
	}
}

func TestStoreConcurrentPut(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 100<<10)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if _, err := s.Put(data); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sum := sha256.Sum256(data)
	path, _ := s.Path(hex.EncodeToString(sum[:]))
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("blob after concurrent Puts: %d bytes, %v", len(b), err)
	}
}

func TestOpenStoreOnFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); err == nil {
		t.Error("Open on a file succeeded")
	}
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
}

// TestProcessThenStore is the path an upload takes.
func TestProcessThenStore(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Process(bytes.NewReader(encPNG(t, withAlpha(40, 30))), Avatar, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sha, err := s.Put(res.Original.Data)
	if err != nil {
		t.Fatal(err)
	}
	if sha != res.SHA256 {
		t.Errorf("store named the original %s, Process %s", sha, res.SHA256)
	}
}
