// Package vectors finds the diaspora* protocol test vectors (../shared/vectors
// beside the project checkout) for tests. It is imported by tests only.
package vectors

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Dir returns the vectors directory: ../shared/vectors next to the module
// root (the nearest parent holding go.mod), or $SEEDPOD_VECTORS.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SEEDPOD_VECTORS"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			v := filepath.Join(filepath.Dir(d), "shared", "vectors")
			if _, err := os.Stat(v); err != nil {
				t.Fatalf("protocol vectors not found at %s (set SEEDPOD_VECTORS): %v", v, err)
			}
			return v
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod above the test's directory")
		}
	}
}

// Read returns the bytes of a vector file, rel being relative to Dir.
func Read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), rel))
	if err != nil {
		t.Fatalf("vector %s: %v", rel, err)
	}
	return b
}

// Glob lists vector files matching pattern (relative to Dir), sorted, as
// paths relative to Dir.
func Glob(t testing.TB, pattern string) []string {
	t.Helper()
	dir := Dir(t)
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(m))
	for _, p := range m {
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
	}
	sort.Strings(out)
	return out
}
