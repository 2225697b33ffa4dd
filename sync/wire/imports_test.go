package wire

import (
	"os/exec"
	"strings"
	"testing"
)

// The wire format is pure: no network, files, database or anything above
// it but pod/oplog's types.
func TestImportRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "seedpod/sync/wire").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		switch {
		case imp == "net" || strings.HasPrefix(imp, "net/"), imp == "os" || strings.HasPrefix(imp, "os/"),
			imp == "database/sql", imp == "syscall", imp == "unsafe",
			strings.HasPrefix(imp, "seedpod/") && imp != "seedpod/pod/oplog",
			strings.Contains(imp, "libp2p"), strings.Contains(imp, "sqlite"):
			t.Errorf("sync/wire imports %s: it must stay pure", imp)
		}
	}
}
