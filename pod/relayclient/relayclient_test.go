package relayclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"seedpod/pod/diaspora/discovery"
	"seedpod/pod/relay"
	"seedpod/pod/relay/public"
	"seedpod/pod/relay/ratelimit"
	"seedpod/pod/relayclient"
)

// apiError asserts that err carries an relayclient.APIError with status and code.
func apiError(t *testing.T, err error, status int, code string) *relayclient.APIError {
	t.Helper()
	ae, ok := errors.AsType[*relayclient.APIError](err)
	if !ok {
		t.Fatalf("want relayclient.APIError %d %s, got %v", status, code, err)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("want relayclient.APIError %d %s, got %d %s (%v)", status, code, ae.Status, ae.Code, err)
	}
	return ae
}

func TestEnroll(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	k, _ := testKeys(t)
	profile := public.Profile{FullName: "Alice", Searchable: true}
	first, second := g.invite("alice"), g.invite("alice") // two open invites for one name

	_, err := relayclient.Enroll(ctx(t), g.http, g.base, "not-the-code", "alice", aliceGUID, k, profile)
	if ae := apiError(t, err, http.StatusForbidden, "bad_invite"); ae.Retryable() || relayclient.IsRetryable(err) {
		t.Errorf("a bad invite is final: %v", err)
	}

	resp, err := relayclient.Enroll(ctx(t), g.http, g.base+"/", " "+strings.ToUpper(first)+" ", "alice", aliceGUID, k, profile)
	if err != nil {
		t.Fatal(err)
	}
	if want := (relay.EnrollResponse{DiasporaID: g.alice(), GUID: aliceGUID}); resp != want {
		t.Errorf("enroll: %+v, want %+v", resp, want)
	}

	_, err = relayclient.Enroll(ctx(t), g.http, g.base, second, "alice", "b0b0000000000000000000000000000b", k, profile)
	apiError(t, err, http.StatusConflict, "taken")

	if _, err := relayclient.Enroll(ctx(t), g.http, "http://"+g.domain, first, "alice", aliceGUID, k, profile); !errors.Is(err, relayclient.ErrInvalid) {
		t.Errorf("enroll over http: %v, want relayclient.ErrInvalid", err)
	}
}

func TestMePullAck(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	c := g.enrolled()
	_, other := testKeys(t)

	who, guid, acked, err := c.Me(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if who != g.alice() || guid != aliceGUID || acked != 0 {
		t.Errorf("Me: %q %q %d", who, guid, acked)
	}

	docs := [][]byte{
		statusMessage(t, "bob@bob.test", guid1, "one", other),
		statusMessage(t, "bob@bob.test", guid2, "two", other),
	}
	for _, d := range docs {
		g.deliver(d)
	}
	page, err := c.Pull(ctx(t), 0, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || !bytes.Equal(page.Items[0].Body, docs[0]) || !bytes.Equal(page.Items[1].Body, docs[1]) ||
		page.Items[0].Route != "public" || page.Cursor != page.Items[1].ID {
		t.Fatalf("pull: %+v", page)
	}
	// limit 1 pages one at a time from the cursor.
	one, err := c.Pull(ctx(t), 0, 1, 0)
	if err != nil || len(one.Items) != 1 || one.Cursor != page.Items[0].ID {
		t.Fatalf("pull limit 1: %+v %v", one, err)
	}

	got, err := c.Ack(ctx(t), page.Cursor)
	if err != nil || got != page.Cursor {
		t.Fatalf("ack %d: %d %v", page.Cursor, got, err)
	}
	if _, _, acked, err := c.Me(ctx(t)); err != nil || acked != page.Cursor {
		t.Errorf("Me after ack: acked %d %v, want %d", acked, err, page.Cursor)
	}
	// Acknowledged items are gone, and the acknowledgement never runs
	// ahead of the inbox or back.
	if rest, err := c.Pull(ctx(t), 0, 10, 0); err != nil || len(rest.Items) != 0 {
		t.Errorf("pull after ack: %+v %v", rest, err)
	}
	if got, err := c.Ack(ctx(t), page.Cursor+100); err != nil || got != page.Cursor {
		t.Errorf("ack ahead: %d %v, want %d", got, err, page.Cursor)
	}
	if got, err := c.Ack(ctx(t), 0); err != nil || got != page.Cursor {
		t.Errorf("ack back: %d %v, want %d", got, err, page.Cursor)
	}
	if _, err := c.Ack(ctx(t), -1); !errors.Is(err, relayclient.ErrInvalid) {
		t.Errorf("ack -1: %v", err)
	}
}

const (
	guid1 = "5a1e0000000000000000000000000001"
	guid2 = "5a1e0000000000000000000000000002"
	guid3 = "5a1e0000000000000000000000000003"
)

// deliver posts a public envelope to the relay as a remote pod would.
func (g *rig) deliver(doc []byte) {
	g.t.Helper()
	st, _, b, err := g.http.PostBody(ctx(g.t), g.base+"/receive/public", "application/magic-envelope+xml", doc)
	if err != nil || st != http.StatusAccepted {
		g.t.Fatalf("deliver: %d %s %v", st, b, err)
	}
}

func TestPullLongPoll(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	c := g.enrolled()
	_, other := testKeys(t)
	doc := statusMessage(t, "bob@bob.test", guid3, "late", other)

	// Nothing arrives: the poll lasts the (rounded up) wait and is empty.
	start := time.Now()
	page, err := c.Pull(ctx(t), 0, 10, 300*time.Millisecond)
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("empty poll: %+v %v", page, err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Errorf("empty poll with 300ms wait took %v, want about 1s", d)
	}

	// An item delivered while the poll waits ends it.
	const delay = 300 * time.Millisecond
	var once sync.Once
	done := make(chan struct{})
	g.hook(func(req *http.Request) {
		if req.URL.Path == relay.OwnerPrefix+"/inbox" {
			once.Do(func() {
				go func() {
					defer close(done)
					time.Sleep(delay)
					g.deliver(doc)
				}()
			})
		}
	})
	start = time.Now()
	page, err = c.Pull(ctx(t), 0, 10, 10*time.Second)
	took := time.Since(start)
	<-done
	if err != nil || len(page.Items) != 1 || !bytes.Equal(page.Items[0].Body, doc) {
		t.Fatalf("long poll: %+v %v", page, err)
	}
	if took < delay || took > 5*time.Second {
		t.Errorf("long poll took %v: want the delivery (after %v) to end it", took, delay)
	}
}

func outboxItems(n, from int, recipient string) []relay.OutboxItem {
	items := make([]relay.OutboxItem, n)
	for i := range items {
		items[i] = relay.OutboxItem{GUID: guid(from + i), Recipient: recipient, Body: []byte("<me:env/>")}
	}
	return items
}

func TestHandOverAndStatus(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	c := g.enrolled()
	const bob, carol = "https://bob.test/receive/public", "https://carol.test:8443/receive/users/ca401000000000000000000000000001"

	items := append(outboxItems(2, 0, bob), outboxItems(1, 0, carol)...)
	resp, err := c.HandOver(ctx(t), items)
	if err != nil || resp != (relay.OutboxResponse{Accepted: 3}) {
		t.Fatalf("hand over: %+v %v", resp, err)
	}
	// Again, with one new item: the relay deduplicates by guid+recipient.
	resp, err = c.HandOver(ctx(t), append(items, outboxItems(1, 2, bob)...))
	if err != nil || resp != (relay.OutboxResponse{Accepted: 1, Duplicates: 3}) {
		t.Fatalf("hand over again: %+v %v", resp, err)
	}

	st, err := c.Status(ctx(t), guid(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Recipient != bob || st[1].Recipient != carol || st[0].State != "queued" || st[1].State != "queued" {
		t.Errorf("status: %+v", st)
	}
	if st, err := c.Status(ctx(t), guid(999)); err != nil || len(st) != 0 {
		t.Errorf("status of an unknown guid: %+v %v", st, err)
	}
	_, err = c.Status(ctx(t), "short")
	apiError(t, err, http.StatusBadRequest, "bad_request")

	// More than one request's worth: split at relayclient.MaxOutboxItems, answers summed.
	before := g.count("POST", relay.OwnerPrefix+"/outbox")
	resp, err = c.HandOver(ctx(t), outboxItems(2*relayclient.MaxOutboxItems+50, 100, bob))
	if err != nil || resp != (relay.OutboxResponse{Accepted: 2*relayclient.MaxOutboxItems + 50}) {
		t.Fatalf("hand over 250: %+v %v", resp, err)
	}
	if n := g.count("POST", relay.OwnerPrefix+"/outbox") - before; n != 3 {
		t.Errorf("250 items took %d requests, want 3", n)
	}

	// Nothing to hand over sends nothing.
	before = g.count("POST", relay.OwnerPrefix+"/outbox")
	if resp, err := c.HandOver(ctx(t), nil); err != nil || resp != (relay.OutboxResponse{}) {
		t.Errorf("hand over nothing: %+v %v", resp, err)
	}
	// A refused request after stored ones: the sums so far and the relayclient.APIError.
	bad := append(outboxItems(relayclient.MaxOutboxItems, 1000, bob), relay.OutboxItem{GUID: guid(2000), Recipient: "http://bob.test/receive/public", Body: []byte("x")})
	resp, err = c.HandOver(ctx(t), bad)
	apiError(t, err, http.StatusUnprocessableEntity, "invalid")
	if resp.Accepted != relayclient.MaxOutboxItems {
		t.Errorf("partial hand-over: %+v, want the first request's %d", resp, relayclient.MaxOutboxItems)
	}
	if n := g.count("POST", relay.OwnerPrefix+"/outbox") - before; n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestPublishUnpublish(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	c := g.enrolled()
	k, other := testKeys(t)

	doc := statusMessage(t, g.alice(), guid1, "Hello from the relay client", k)
	n, err := c.Publish(ctx(t), []relay.PublishItem{{Type: "status_message", GUID: guid1, Envelope: doc}})
	if err != nil || n != 1 {
		t.Fatalf("publish: %d %v", n, err)
	}
	st, body := g.get("/fetch/status_message/" + guid1)
	if st != http.StatusOK || !bytes.Equal(body, doc) {
		t.Fatalf("fetch: %d %q", st, body)
	}

	// Signed with another key: refused, nothing stored.
	forged := statusMessage(t, g.alice(), guid2, "forged", other)
	_, err = c.Publish(ctx(t), []relay.PublishItem{{Type: "status_message", GUID: guid2, Envelope: forged}})
	apiError(t, err, http.StatusUnprocessableEntity, "bad_signature")
	if st, _ := g.get("/fetch/status_message/" + guid2); st != http.StatusNotFound {
		t.Errorf("forged item served: %d", st)
	}

	if err := c.Unpublish(ctx(t), "status_message", guid1); err != nil {
		t.Fatal(err)
	}
	if st, _ := g.get("/fetch/status_message/" + guid1); st != http.StatusNotFound {
		t.Errorf("fetch after unpublish: %d", st)
	}
	apiError(t, c.Unpublish(ctx(t), "status_message", guid1), http.StatusNotFound, "not_found")
	if err := c.Unpublish(ctx(t), "", guid1); !errors.Is(err, relayclient.ErrInvalid) {
		t.Errorf("unpublish without a type: %v", err)
	}

	// More than one request's worth: split at relayclient.MaxPublishItems.
	items := make([]relay.PublishItem, relayclient.MaxPublishItems+1)
	for i := range items {
		items[i] = relay.PublishItem{Type: "status_message", GUID: guid(i), Envelope: statusMessage(t, g.alice(), guid(i), "post", k)}
	}
	before := g.count("POST", relay.OwnerPrefix+"/published")
	if n, err := c.Publish(ctx(t), items); err != nil || n != len(items) {
		t.Fatalf("publish %d: %d %v", len(items), n, err)
	}
	if n := g.count("POST", relay.OwnerPrefix+"/published") - before; n != 2 {
		t.Errorf("%d items took %d requests, want 2", len(items), n)
	}
	if st, body := g.get("/fetch/post/" + guid(relayclient.MaxPublishItems)); st != http.StatusOK || !bytes.Equal(body, items[relayclient.MaxPublishItems].Envelope) {
		t.Errorf("fetch the last of the second request: %d", st)
	}
}

func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	c := g.enrolled()
	p := public.Profile{FirstName: "Alice", LastName: "Liddell", FullName: "Alice P. Liddell", Searchable: true, Public: true, Bio: "down the rabbit hole"}
	if err := c.UpdateProfile(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	st, body := g.get("/hcard/users/" + aliceGUID)
	if st != http.StatusOK {
		t.Fatalf("hcard: %d", st)
	}
	hc, err := discovery.ParseHCard(body)
	if err != nil {
		t.Fatal(err)
	}
	if hc.FullName != p.FullName || hc.FirstName != p.FirstName || hc.LastName != p.LastName || !hc.Searchable {
		t.Errorf("hcard after update: %+v", hc)
	}
	err = c.UpdateProfile(ctx(t), public.Profile{FirstName: "semi;colon"})
	apiError(t, err, http.StatusUnprocessableEntity, "invalid")
	// Over the relay's body cap: refused here, nothing sent.
	before := g.count("PUT", relay.OwnerPrefix+"/profile")
	err = c.UpdateProfile(ctx(t), public.Profile{Bio: strings.Repeat("x", relayclient.MaxOwnerBody)})
	if !errors.Is(err, relayclient.ErrTooLarge) || relayclient.IsRetryable(err) || g.count("PUT", relay.OwnerPrefix+"/profile") != before {
		t.Errorf("oversized profile: %v", err)
	}
}

// pngBytes is a small PNG.
func pngBytes(t testing.TB) []byte {
	img := image.NewGray(image.Rect(0, 0, 3, 2))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMedia(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	c := g.enrolled()
	data := pngBytes(t)
	m, err := c.UploadMedia(ctx(t), "image/png", data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.URL, g.base+"/media/alice/") || m.Width != 3 || m.Height != 2 || m.ContentType != "image/png" ||
		m.RemotePhotoPath+m.RemotePhotoName != m.URL {
		t.Errorf("upload: %+v", m)
	}
	st, _, body, err := g.http.Get(ctx(t), m.URL, "")
	if err != nil || st != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET %s: %d %v", m.URL, st, err)
	}
	again, err := c.UploadMedia(ctx(t), "image/png", data)
	if err != nil || again != m {
		t.Errorf("upload again: %+v %v", again, err)
	}
	_, err = c.UploadMedia(ctx(t), "image/jpeg", data)
	apiError(t, err, http.StatusUnsupportedMediaType, "wrong_type")
	_, err = c.UploadMedia(ctx(t), "text/plain", data)
	apiError(t, err, http.StatusUnsupportedMediaType, "unsupported_type")
	if _, err := c.UploadMedia(ctx(t), "image/png\r\nX-Evil: 1", data); !errors.Is(err, relayclient.ErrInvalid) {
		t.Errorf("content type with CRLF: %v", err)
	}

	if err := c.DeleteMedia(ctx(t), m.Name); err != nil {
		t.Fatal(err)
	}
	if st, _ := g.get("/media/alice/" + m.Name); st != http.StatusNotFound {
		t.Errorf("GET after delete: %d", st)
	}
	apiError(t, c.DeleteMedia(ctx(t), m.Name), http.StatusNotFound, "not_found")
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	c := g.enrolled()
	if err := c.DeleteAccount(ctx(t)); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := c.Me(ctx(t))
	apiError(t, err, http.StatusUnauthorized, "bad_signature")
	if st, _ := g.get("/hcard/users/" + aliceGUID); st != http.StatusNotFound {
		t.Errorf("hcard after deletion: %d", st)
	}
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	g.enrolled()
	_, other := testKeys(t)
	c, err := relayclient.New(g.base, "alice", other, g.http)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = c.Me(ctx(t))
	if apiError(t, err, http.StatusUnauthorized, "bad_signature"); relayclient.IsRetryable(err) {
		t.Errorf("a bad signature is final")
	}
	_, err = c.HandOver(ctx(t), outboxItems(1, 0, "https://bob.test/receive/public"))
	apiError(t, err, http.StatusUnauthorized, "bad_signature")
}

// A device clock far off: the relay refuses the first request as expired,
// the client learns the offset from Date and succeeds on its second try.
func TestClockOffset(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	c := g.enrolled()
	c.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	before := g.count("GET", relay.OwnerPrefix+"/me")
	if _, _, _, err := c.Me(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := g.count("GET", relay.OwnerPrefix+"/me") - before; n != 2 {
		t.Errorf("%d requests, want 2 (expired, then corrected)", n)
	}
	if off := c.ClockOffset(); off < time.Hour-5*time.Second || off > time.Hour+5*time.Second {
		t.Errorf("offset %v, want about 1h", off)
	}
	// Learnt: the next request needs one try.
	before = g.count("GET", relay.OwnerPrefix+"/me")
	if _, _, _, err := c.Me(ctx(t)); err != nil || g.count("GET", relay.OwnerPrefix+"/me")-before != 1 {
		t.Errorf("after learning: %v", err)
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	g := newRig(t, func(cfg *relay.Config) { cfg.RateLimit = ratelimit.Options{Rate: 0.01, Burst: 1} })
	k, _ := testKeys(t)
	c, err := relayclient.New(g.base, "alice", k, g.http)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = c.Me(ctx(t)) // the one token: an answer from the relay itself
	apiError(t, err, http.StatusUnauthorized, "bad_signature")
	_, _, _, err = c.Me(ctx(t))
	ae := apiError(t, err, http.StatusTooManyRequests, "rate_limited")
	if !relayclient.IsRetryable(err) || ae.RetryAfter < time.Minute || relayclient.RetryAfter(err) != ae.RetryAfter {
		t.Errorf("429: retryable %v, retry after %v", relayclient.IsRetryable(err), ae.RetryAfter)
	}
}

func TestTransportErrorRetryable(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil)
	k, _ := testKeys(t)
	// A loopback port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c, err := relayclient.New(fmt.Sprintf("https://%s:%d", host, port), "alice", k, g.http)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = c.Me(ctx(t))
	if err == nil || !relayclient.IsRetryable(err) {
		t.Errorf("connection refused: %v, retryable %v", err, relayclient.IsRetryable(err))
	}
	if _, ok := errors.AsType[*relayclient.APIError](err); ok {
		t.Errorf("a transport failure is not an relayclient.APIError: %v", err)
	}

	// A call the caller cancelled is not retried.
	live := g.enrolled()
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := live.Me(cctx); err == nil || relayclient.IsRetryable(err) {
		t.Errorf("cancelled call: %v, retryable %v", err, relayclient.IsRetryable(err))
	}
}
