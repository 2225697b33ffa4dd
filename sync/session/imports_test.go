package session

import (
	"os/exec"
	"strings"
	"testing"
)

// The session reaches the database only through Replica and the network
// only through the stream it is given.
func TestImportRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "seedpod/sync/session").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		switch {
		case imp == "net" || strings.HasPrefix(imp, "net/"), imp == "database/sql",
			strings.HasPrefix(imp, "seedpod/") && imp != "seedpod/pod/oplog" && imp != "seedpod/sync/wire",
			strings.Contains(imp, "libp2p"), strings.Contains(imp, "sqlite"):
			t.Errorf("sync/session imports %s", imp)
		}
	}
}
