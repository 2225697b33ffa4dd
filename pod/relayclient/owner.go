package relayclient

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"seedpod/pod/diaspora/keys"
	"seedpod/pod/httpclient"
	"seedpod/pod/relay"
	"seedpod/pod/relay/public"
)

const jsonType = "application/json"

// Enroll claims username on the relay at base with the invite code, for the
// identity guid whose key is key, and sets its public profile. The request
// is signed with key: the relay's proof that the device holds it. A wrong,
// used or expired code is an APIError 403 "bad_invite"; a username or guid
// already enrolled is 409 "taken".
func Enroll(ctx context.Context, http *httpclient.Client, base, code, username, guid string, key *rsa.PrivateKey, profile public.Profile) (relay.EnrollResponse, error) {
	c, err := New(base, username, key, http)
	if err != nil {
		return relay.EnrollResponse{}, fmt.Errorf("enroll %s: %w", username, err)
	}
	return c.Enroll(ctx, code, guid, profile)
}

// Enroll is the function Enroll on a client (signed with its clock).
func (c *Client) Enroll(ctx context.Context, code, guid string, profile public.Profile) (relay.EnrollResponse, error) {
	var out relay.EnrollResponse
	body := jsonBody(relay.EnrollRequest{Code: code, Username: c.username, GUID: guid,
		PublicKey: string(keys.MarshalPublic(&c.key.PublicKey)), Profile: profile})
	err := c.do(ctx, request{method: http.MethodPost, path: "/enroll", ctype: jsonType, body: body,
		limit: MaxOwnerBody, ok: []int{http.StatusCreated}, out: &out})
	if err != nil {
		return relay.EnrollResponse{}, fmt.Errorf("enroll %s: %w", c.username, err)
	}
	return out, nil
}

// Me asks who the identity is on the relay and how far its inbox is
// acknowledged.
func (c *Client) Me(ctx context.Context) (diasporaID, guid string, acked int64, err error) {
	var out struct {
		DiasporaID string `json:"diaspora_id"`
		GUID       string `json:"guid"`
		Acked      int64  `json:"acked"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/me", limit: MaxOwnerBody,
		ok: []int{http.StatusOK}, out: &out}); err != nil {
		return "", "", 0, err
	}
	return out.DiasporaID, out.GUID, out.Acked, nil
}

// Moved tells the relay the identity moved to another diaspora* ID (""
// takes it back): its WebFinger then points there.
func (c *Client) Moved(ctx context.Context, movedTo string) error {
	body, err := json.Marshal(map[string]string{"moved_to": movedTo})
	if err != nil {
		return err
	}
	if err := c.do(ctx, request{method: http.MethodPut, path: "/moved", body: body, limit: MaxOwnerBody,
		ok: []int{http.StatusNoContent}}); err != nil {
		return fmt.Errorf("record the move to %s: %w", movedTo, err)
	}
	return nil
}

// Pull reads the inbox: items after the cursor after (the relay never goes
// back before what was acknowledged; 0 means "from the acknowledgement"),
// at most limit (≤ 0: the relay's default of 50; over MaxPullItems:
// MaxPullItems), waiting up to wait (whole seconds, at most MaxWait) for
// the first item when there is none. Pass the page's Cursor as after next
// time and Ack it once the items are safe. The httpclient's Timeout must
// outlast wait (HTTPOptions).
func (c *Client) Pull(ctx context.Context, after int64, limit int, wait time.Duration) (relay.InboxPage, error) {
	if after < 0 {
		return relay.InboxPage{}, fmt.Errorf("pull inbox: %w: after %d", ErrInvalid, after)
	}
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if c.Device != "" {
		q.Set("device", c.Device)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(min(limit, MaxPullItems)))
	}
	if wait > 0 {
		secs := (min(wait, MaxWait) + time.Second - 1) / time.Second // a partial second waits a whole one
		q.Set("wait", strconv.FormatInt(int64(secs), 10))
	}
	var page relay.InboxPage
	if err := c.do(ctx, request{method: http.MethodGet, path: "/inbox", query: q, limit: MaxOwnerBody,
		ok: []int{http.StatusOK}, out: &page}); err != nil {
		return relay.InboxPage{}, fmt.Errorf("pull inbox after %d: %w", after, err)
	}
	if page.Items == nil {
		page.Items = []relay.InboxItem{}
	}
	// A page that contradicts itself would make the engine acknowledge
	// what it never saw, or fail every Ack and pull the same page forever.
	max := MaxPullItems
	if limit > 0 {
		max = min(limit, MaxPullItems)
	}
	last := after
	for _, it := range page.Items {
		if it.ID <= last {
			return relay.InboxPage{}, fmt.Errorf("pull inbox after %d: %w: item ids not increasing after the cursor (%d after %d)",
				after, ErrBadAnswer, it.ID, last)
		}
		last = it.ID
	}
	switch {
	case len(page.Items) > max:
		return relay.InboxPage{}, fmt.Errorf("pull inbox after %d: %w: %d items, asked for at most %d", after, ErrBadAnswer, len(page.Items), max)
	case page.Cursor < last:
		return relay.InboxPage{}, fmt.Errorf("pull inbox after %d: %w: cursor %d behind its last item %d", after, ErrBadAnswer, page.Cursor, last)
	}
	return page, nil
}

// Ack acknowledges the inbox up to and including upTo and returns where the
// acknowledgement now stands (never behind where it was, never ahead of the
// newest item). The relay then deletes what nobody needs any more.
func (c *Client) Ack(ctx context.Context, upTo int64) (acked int64, err error) {
	if upTo < 0 {
		return 0, fmt.Errorf("ack inbox: %w: up to %d", ErrInvalid, upTo)
	}
	var out struct {
		Acked int64 `json:"acked"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: "/inbox/ack", ctype: jsonType,
		body: jsonBody(relay.AckRequest{UpTo: upTo, Device: c.Device}), limit: MaxOwnerBody, ok: []int{http.StatusOK}, out: &out}); err != nil {
		return 0, fmt.Errorf("ack inbox up to %d: %w", upTo, err)
	}
	return out.Acked, nil
}

// HandOver gives items to the relay's outbox for delivery. It sends them in
// order, in as few requests as the relay's caps allow (MaxOutboxItems
// items and MaxOutboxBody bytes each), and returns the sums of the relay's
// answers. An item too large for any request is ErrTooLarge before
// anything is sent. When a request fails, the response counts what the
// earlier requests stored and the error names the items that were not
// confirmed; handing the same items over again is safe (the relay
// deduplicates by guid and recipient and counts them as Duplicates).
func (c *Client) HandOver(ctx context.Context, items []relay.OutboxItem) (relay.OutboxResponse, error) {
	var sum relay.OutboxResponse
	bodies, spans, err := chunk(items, MaxOutboxItems, MaxOutboxBody)
	if err != nil {
		return sum, fmt.Errorf("hand over %d items: %w", len(items), err)
	}
	for i, body := range bodies {
		var out relay.OutboxResponse
		if err := c.do(ctx, request{method: http.MethodPost, path: "/outbox", ctype: jsonType, body: body,
			limit: MaxOutboxBody, ok: []int{http.StatusAccepted}, out: &out}); err != nil {
			return sum, fmt.Errorf("hand over items %d to %d of %d: %w", spans[i][0], spans[i][1]-1, len(items), err)
		}
		sum.Accepted += out.Accepted
		sum.Duplicates += out.Duplicates
	}
	return sum, nil
}

// Status is the delivery state of the item guid, one entry per recipient
// (empty when the relay has no such item).
func (c *Client) Status(ctx context.Context, guid string) ([]relay.DeliveryStatus, error) {
	var out []relay.DeliveryStatus
	if err := c.do(ctx, request{method: http.MethodGet, path: "/outbox/status", query: url.Values{"guid": {guid}},
		limit: MaxOwnerBody, ok: []int{http.StatusOK}, out: &out}); err != nil {
		return nil, fmt.Errorf("delivery status of %q: %w", clip(guid), err)
	}
	if out == nil {
		out = []relay.DeliveryStatus{}
	}
	return out, nil
}

// Publish stores pre-signed public entities on the relay (served on
// /fetch/<type>/<guid>; status messages also on /posts/<guid> and the Atom
// feed). Items are sent in order in as few requests as the relay's caps
// allow (MaxPublishItems items and MaxPublishBody bytes each); the result is
// how many the relay stored (new or replaced). On a failed request the
// count covers the earlier requests; publishing again is safe (an upsert).
func (c *Client) Publish(ctx context.Context, items []relay.PublishItem) (int, error) {
	stored := 0
	bodies, spans, err := chunk(items, MaxPublishItems, MaxPublishBody)
	if err != nil {
		return 0, fmt.Errorf("publish %d items: %w", len(items), err)
	}
	for i, body := range bodies {
		var out relay.PublishResponse
		if err := c.do(ctx, request{method: http.MethodPost, path: "/published", ctype: jsonType, body: body,
			limit: MaxPublishBody, ok: []int{http.StatusCreated}, out: &out}); err != nil {
			return stored, fmt.Errorf("publish items %d to %d of %d: %w", spans[i][0], spans[i][1]-1, len(items), err)
		}
		stored += out.Stored
	}
	return stored, nil
}

// Unpublish removes the identity's published entity typ/guid ("post" for a
// status message or reshare), after its retraction was sent. One that is
// not published (or is another identity's) is an APIError 404.
func (c *Client) Unpublish(ctx context.Context, typ, guid string) error {
	if typ == "" || guid == "" {
		return fmt.Errorf("unpublish: %w: type %q, guid %q", ErrInvalid, clip(typ), clip(guid))
	}
	path := "/published/" + url.PathEscape(typ) + "/" + url.PathEscape(guid)
	if err := c.do(ctx, request{method: http.MethodDelete, path: path, limit: MaxOwnerBody,
		ok: []int{http.StatusNoContent}}); err != nil {
		return fmt.Errorf("unpublish %s %s: %w", clip(typ), clip(guid), err)
	}
	return nil
}

// UpdateProfile replaces the identity's public profile (hCard, profile
// page, WebFinger): the whole profile, not a patch.
func (c *Client) UpdateProfile(ctx context.Context, p public.Profile) error {
	if err := c.do(ctx, request{method: http.MethodPut, path: "/profile", ctype: jsonType, body: jsonBody(p),
		limit: MaxOwnerBody, ok: []int{http.StatusOK}}); err != nil {
		return fmt.Errorf("update profile: %w", err)
	}
	return nil
}

// UploadMedia stores a public image on the relay: data of contentType
// (image/jpeg, image/png, image/gif or image/webp; the relay checks the
// bytes are that type), at most MaxMediaBody bytes. The relay names the file
// after its content (there is no name to choose), so the same bytes again
// get the same answer. The response's URL is where the file is served;
// RemotePhotoPath and RemotePhotoName are a Photo entity's fields.
func (c *Client) UploadMedia(ctx context.Context, contentType string, data []byte) (relay.MediaResponse, error) {
	if len(data) == 0 {
		return relay.MediaResponse{}, fmt.Errorf("upload media: %w: no bytes", ErrInvalid)
	}
	if _, _, err := mime.ParseMediaType(contentType); err != nil || strings.ContainsAny(contentType, "\r\n") {
		return relay.MediaResponse{}, fmt.Errorf("upload media: %w: content type %q", ErrInvalid, clip(contentType))
	}
	var m relay.MediaResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/media", ctype: contentType, body: data,
		limit: MaxMediaBody, ok: []int{http.StatusCreated, http.StatusOK}, out: &m}); err != nil {
		return relay.MediaResponse{}, fmt.Errorf("upload %d bytes of %s: %w", len(data), clip(contentType), err)
	}
	return m, nil
}

// DeleteMedia removes the identity's media file name (MediaResponse.Name);
// one it does not have is an APIError 404.
func (c *Client) DeleteMedia(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("delete media: %w: no name", ErrInvalid)
	}
	if err := c.do(ctx, request{method: http.MethodDelete, path: "/media/" + url.PathEscape(name), limit: MaxOwnerBody,
		ok: []int{http.StatusNoContent}}); err != nil {
		return fmt.Errorf("delete media %s: %w", clip(name), err)
	}
	return nil
}

// DeleteAccount removes the identity from the relay with everything the
// relay holds for it (inbox, outbox, published entities, media). Requests
// signed as it are refused afterwards (401).
func (c *Client) DeleteAccount(ctx context.Context) error {
	if err := c.do(ctx, request{method: http.MethodDelete, path: "/me", limit: MaxOwnerBody,
		ok: []int{http.StatusNoContent}}); err != nil {
		return fmt.Errorf("delete account %s: %w", c.username, err)
	}
	return nil
}

// chunk encodes items as request bodies {"items":[…]}, in order, each with
// at most maxItems items and maxBody bytes, and returns them with the
// [start, end) index range each holds. No items, no bodies. An item that
// does not fit in a body on its own is ErrTooLarge.
func chunk[T any](items []T, maxItems, maxBody int) (bodies [][]byte, spans [][2]int, err error) {
	const head, tail = `{"items":[`, `]}`
	var cur []byte
	start := 0
	flush := func(end int) {
		if cur != nil {
			bodies = append(bodies, append(cur, tail...))
			spans = append(spans, [2]int{start, end})
			cur = nil
		}
	}
	for i, it := range items {
		raw, err := json.Marshal(it)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: items[%d]: %v", ErrInvalid, i, err)
		}
		if len(head)+len(raw)+len(tail) > maxBody {
			return nil, nil, fmt.Errorf("%w: items[%d] is %d bytes of JSON; a request holds at most %d", ErrTooLarge, i, len(raw), maxBody)
		}
		if cur != nil && (i-start == maxItems || len(cur)+1+len(raw)+len(tail) > maxBody) {
			flush(i)
		}
		if cur == nil {
			cur = append(make([]byte, 0, min(maxBody, 64<<10)), head...)
			start = i
		} else {
			cur = append(cur, ',')
		}
		cur = append(cur, raw...)
	}
	flush(len(items))
	return bodies, spans, nil
}

// PutDevices replaces the identity's device list on the relay (the
// device registry without revoked devices): each listed device pulls the
// inbox with its own cursor and may use the relay's circuit relay.
func (c *Client) PutDevices(ctx context.Context, devices []string) ([]relay.DeviceCursor, error) {
	if devices == nil {
		devices = []string{}
	}
	var out struct {
		Devices []relay.DeviceCursor `json:"devices"`
	}
	if err := c.do(ctx, request{method: http.MethodPut, path: "/devices", ctype: jsonType,
		body: jsonBody(relay.DevicesRequest{Devices: devices}), limit: MaxOwnerBody, ok: []int{http.StatusOK}, out: &out}); err != nil {
		return nil, fmt.Errorf("put %d devices: %w", len(devices), err)
	}
	return out.Devices, nil
}

// Devices lists the identity's devices on the relay with their inbox
// cursors.
func (c *Client) Devices(ctx context.Context) ([]relay.DeviceCursor, error) {
	var out struct {
		Devices []relay.DeviceCursor `json:"devices"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/devices", limit: MaxOwnerBody,
		ok: []int{http.StatusOK}, out: &out}); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out.Devices, nil
}

// P2P is how this device reaches the relay's circuit relay (its peer ID
// and addresses); an *APIError with 404 when the relay runs none.
func (c *Client) P2P(ctx context.Context) (relay.P2PInfo, error) {
	var out relay.P2PInfo
	if err := c.do(ctx, request{method: http.MethodGet, path: "/p2p", limit: MaxOwnerBody,
		ok: []int{http.StatusOK}, out: &out}); err != nil {
		return relay.P2PInfo{}, fmt.Errorf("the relay's circuit relay: %w", err)
	}
	return out, nil
}
