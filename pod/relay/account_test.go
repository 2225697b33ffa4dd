package relay

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"seedpod/pod/diaspora/discovery"
	"seedpod/pod/internal/vectors"
	"seedpod/pod/relay/public"
)

func TestProfileUpdateAndAccountDeletion(t *testing.T) {
	g := newRig(t)
	ka, kb := testKeys(t)
	g.enroll("alice", guidA, ka)
	g.enroll("bob", guidB, kb)

	prof, _ := json.Marshal(public.Profile{FirstName: "Alice", LastName: "Liddell", FullName: "Alice Liddell", Searchable: true})
	if st, b := g.do("PUT", OwnerPrefix+"/profile", prof, signer(t, "alice", ka)); st != 200 {
		t.Fatalf("profile: %d %s", st, b)
	}
	st, b := g.do("GET", "/hcard/users/"+guidA, nil, nil)
	h, err := discovery.ParseHCard(b)
	if st != 200 || err != nil || h.FullName != "Alice Liddell" || h.FirstName != "Alice" {
		t.Fatalf("hcard after update: %d %v %+v", st, err, h)
	}
	long, _ := json.Marshal(public.Profile{FullName: strings.Repeat("x", 71)})
	if st, _ := g.do("PUT", OwnerPrefix+"/profile", long, signer(t, "alice", ka)); st != 422 {
		t.Errorf("a 71-character name: %d, want 422", st)
	}
	if st, _ := g.do("PUT", OwnerPrefix+"/profile", prof, nil); st != 401 {
		t.Errorf("unsigned profile update: %d", st)
	}

	// Something in alice's inbox and outbox, then she deletes her account.
	g.do("POST", "/receive/users/"+guidA, vectors.Read(t, "generated/envelopes/private_status_message.encrypted.json"), nil)
	if st, _ := g.do("DELETE", OwnerPrefix+"/me", nil, signer(t, "alice", ka)); st != http.StatusNoContent {
		t.Fatalf("delete account: %d", st)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/.well-known/webfinger?resource=acct:alice@" + domain, 404},
		{"GET", "/hcard/users/" + guidA, 404},
		{"POST", "/receive/users/" + guidA, 404},
	} {
		if st, _ := g.do(c.method, c.path, []byte("{}"), nil); st != c.want {
			t.Errorf("%s %s after deletion: %d, want %d", c.method, c.path, st, c.want)
		}
	}
	var rows int
	g.relay.db.R.QueryRow("SELECT count(*) FROM inbox WHERE username = 'alice'").Scan(&rows)
	if rows != 0 {
		t.Errorf("%d inbox rows of the deleted identity remain", rows)
	}
	if st, _ := g.do("GET", OwnerPrefix+"/me", nil, signer(t, "alice", ka)); st != 401 {
		t.Errorf("the deleted identity still authenticates: %d", st)
	}
	// Bob is untouched.
	if st, _ := g.do("GET", OwnerPrefix+"/me", nil, signer(t, "bob", kb)); st != 200 {
		t.Errorf("bob after alice's deletion: %d", st)
	}
}
