package oplog

import (
	"os/exec"
	"strings"
	"testing"
)

// The write model is pure: no database, network, files or UI, so it can be
// simulated and fuzzed, and both pod/store and sync build on it.
func TestImportRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "seedpod/pod/oplog").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		switch {
		case imp == "net" || strings.HasPrefix(imp, "net/"), imp == "os" || strings.HasPrefix(imp, "os/"),
			imp == "database/sql", imp == "syscall", imp == "unsafe",
			strings.HasPrefix(imp, "seedpod/"), strings.Contains(imp, "wails"), strings.Contains(imp, "sqlite"):
			t.Errorf("pod/oplog imports %s: it must stay pure", imp)
		}
	}
}
