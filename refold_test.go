package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"seedpod/pod"
)

// `seedpod dev seed` then `seedpod refold --check`: the tables equal the
// ops; a table changed behind the pod's back is reported as drift and
// rebuilt; the next check is clean.
func TestRefoldCommand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var out, errb bytes.Buffer
	if code := run([]string{"dev", "seed", "--data", data, "--posts", "300", "--contacts", "20", "--key-bits", "1024"}, &out, &errb); code != 0 {
		t.Fatalf("dev seed: exit %d\n%s", code, errb.String())
	}
	refold := func() (int, pod.RefoldReport) {
		out.Reset()
		errb.Reset()
		code := run([]string{"refold", "--data", data, "--check"}, &out, &errb)
		var rep pod.RefoldReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("refold output %q: %v (stderr %s)", out.String(), err, errb.String())
		}
		return code, rep
	}
	code, rep := refold()
	if code != 0 || rep.Before != rep.After || rep.FoldMatches == nil || !*rep.FoldMatches || rep.Ops < 300 || rep.Rows["posts"] < 200 {
		t.Fatalf("clean refold: exit %d, %+v\n%s", code, rep, errb.String())
	}

	db, err := sql.Open("sqlite", filepath.Join(data, pod.DatabaseName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE posts SET text = 'tampered' WHERE id = (SELECT max(id) FROM posts)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, rep = refold()
	if code != 1 || rep.Before == rep.After || !strings.Contains(errb.String(), "drifted") {
		t.Fatalf("refold after tampering: exit %d, %+v\n%s", code, rep, errb.String())
	}
	if code, rep2 := refold(); code != 0 || rep2.Before != rep2.After || rep2.After != rep.After {
		t.Fatalf("refold after the rebuild: exit %d, %+v (first rebuild %s)", code, rep2, rep.After)
	}
}
