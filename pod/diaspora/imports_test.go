package diaspora

import (
	"os/exec"
	"strings"
	"testing"
)

// The protocol tree is pure: it must not reach the database, the network,
// files, processes or the UI, so that it can be tested with vectors and
// fuzzed. This test lists every package under pod/diaspora/ with its
// imports (tests excluded) and refuses the forbidden ones.
func TestImportRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports ","}}`, "seedpod/pod/diaspora/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := func(imp string) bool {
		switch imp {
		case "net", "net/http", "net/http/httptest", "net/rpc", "net/smtp", "database/sql",
			"os", "os/exec", "os/signal", "io/ioutil", "syscall", "log", "plugin", "unsafe":
			return true
		}
		return imp == "seedpod/pod/internal/vectors" ||
			strings.HasPrefix(imp, "net/http/") ||
			strings.HasPrefix(imp, "github.com/wailsapp/") ||
			strings.HasPrefix(imp, "modernc.org/") ||
			(strings.HasPrefix(imp, "seedpod/") && !strings.HasPrefix(imp, "seedpod/pod/diaspora"))
	}
	pkgs := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imps, _ := strings.Cut(line, ":")
		pkgs++
		for _, imp := range strings.Split(imps, ",") {
			if imp != "" && forbidden(imp) {
				t.Errorf("%s imports %s: the protocol tree must stay pure", pkg, imp)
			}
		}
	}
	if pkgs < 3 {
		t.Fatalf("go list found only %d packages under pod/diaspora", pkgs)
	}
}
