package relayclient_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"seedpod/pod/relayclient"
)

// Moved records where the identity lives now: the relay's WebFinger names
// the new profile among its aliases; a bad ID or the identity itself is
// refused and changes nothing; "" takes the move back.
func TestMoved(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	c := g.enrolled()
	webfinger := func() string {
		t.Helper()
		st, body := g.get("/.well-known/webfinger?resource=acct:" + g.alice())
		if st != http.StatusOK {
			t.Fatalf("webfinger: %d %s", st, body)
		}
		return string(body)
	}
	const alias = `"https://new.example:8443/u/alice"`
	for _, c2 := range []struct {
		name, to string
		status   int
		alias    bool
	}{
		{"not a diaspora ID", "no at sign", 422, false},
		{"itself", g.alice(), 422, false},
		{"moved", "Alice@New.Example:8443", 0, true},
		{"again, refused input keeps it", "x@", 422, true},
		{"taken back", "", 0, false},
	} {
		err := c.Moved(ctx(t), c2.to)
		var ae *relayclient.APIError
		switch {
		case c2.status == 0 && err != nil:
			t.Errorf("%s: %v", c2.name, err)
		case c2.status != 0 && (!errors.As(err, &ae) || ae.Status != c2.status):
			t.Errorf("%s: err %v, want status %d", c2.name, err, c2.status)
		}
		if got := strings.Contains(webfinger(), alias); got != c2.alias {
			t.Errorf("%s: webfinger names the new profile: %v, want %v", c2.name, got, c2.alias)
		}
	}
}
