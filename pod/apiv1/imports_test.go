package apiv1

import (
	"os/exec"
	"strings"
	"testing"
)

// The shapes and paging rules are pure: the standard library only, and of
// the network packages net/url alone. No database, no HTTP server, nothing
// from the rest of seedpod, so use cases and pod/web can both import it.
func TestImportRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "seedpod/pod/apiv1").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		switch {
		case imp == "net/url":
		case imp == "net" || strings.HasPrefix(imp, "net/"), imp == "os" || strings.HasPrefix(imp, "os/"),
			imp == "database/sql", imp == "syscall", imp == "unsafe", strings.Contains(imp, "."),
			strings.HasPrefix(imp, "seedpod/"):
			t.Errorf("pod/apiv1 imports %s: it must stay pure", imp)
		}
	}
}
