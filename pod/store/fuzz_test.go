package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzHeader feeds arbitrary file contents to the header check that runs
// before SQLite opens a file. Invariants: it never panics; it accepts only an
// empty file or one that starts with the SQLite magic and carries our
// application_id and a schema version we know.
func FuzzHeader(f *testing.F) {
	valid := make([]byte, 100)
	copy(valid, "SQLite format 3\x00")
	valid[68], valid[69], valid[70], valid[71] = 0x53, 0x44, 0x50, 0x44
	valid[63] = 1
	f.Add(valid)
	f.Add([]byte{})
	f.Add([]byte("SQLite format 3\x00"))
	f.Add(bytes.Repeat([]byte{0xff}, 120))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "pod.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		h, err := readHeader(path)
		if err != nil {
			return
		}
		if err := h.check(path, 1, ApplicationID); err != nil {
			return
		}
		if len(data) == 0 {
			return
		}
		if len(data) < 100 || string(data[:16]) != "SQLite format 3\x00" {
			t.Fatalf("accepted a file without a SQLite header: %q", data)
		}
		if h.applicationID != ApplicationID || h.userVersion > 1 {
			t.Fatalf("accepted header %+v", h)
		}
	})
}
