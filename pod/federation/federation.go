// Package federation owns the pod's conversation with the diaspora*
// network through its relay: enrolment with a relay, the inbound pipeline
// (pull the relay inbox → decrypt → verify → receive rules → store →
// acknowledge), the outbound pipeline (own changes → envelopes, signed and
// per recipient encrypted → the relay's outbox, public ones also published
// for /fetch), relaying of others' relayables on the user's posts, and
// fetching what a received entity refers to.
//
// It never touches the database: what it needs from the pod comes through
// the Host interface, which package pod implements (the arrows point down:
// pod → federation). The protocol itself is pod/diaspora (pure); discovery
// and fetches are pod/federation/discover; the relay's owner API is
// pod/relayclient. All outbound HTTP goes through pod/httpclient.
package federation

import (
	"context"
	"crypto/rsa"
	"errors"
	"log/slog"
	"sync"
	"time"

	"seedpod/pod/diaspora"
	"seedpod/pod/diaspora/entity"
	"seedpod/pod/federation/discover"
	"seedpod/pod/httpclient"
	"seedpod/pod/relay/public"
	"seedpod/pod/store"
)

// Host is what the engine needs from the pod.
type Host interface {
	// Self is the identity, its key and its relay; ErrNoIdentity before
	// the identity (or its key) exists.
	Self(ctx context.Context) (Self, error)
	// SetRelay records an enrolment: the identity is now
	// username@domain and federates through relayURL.
	SetRelay(ctx context.Context, relayURL, domain string) error
	// MoveRelay records a move to another relay, in one write: the
	// identity is now username@domain through relayURL, and the
	// identity it was (former) is kept as a former one, whose contacts
	// are told (an AccountMigration, through Pending) and whose relay
	// inbox is still read.
	MoveRelay(ctx context.Context, relayURL, domain, username string, former FormerRelay) error
	// Person is the pinned key and guid of a diaspora ID (ok false when
	// the pod does not know them).
	Person(ctx context.Context, handle string) (Person, bool, error)
	// AddPerson stores what discovery found.
	AddPerson(ctx context.Context, rec store.PersonRecord) error
	// Related answers the receive rules' questions about a referenced
	// entity (type name as the protocol has it: Post, Comment, Poll, …).
	Related(ctx context.Context, typ, guid string) (diaspora.Related, bool, error)
	// Receive stores accepted entities, all in one transaction;
	// entities already stored are skipped. It returns how many were new.
	Receive(ctx context.Context, in []Accepted) (int, error)
	// Pending lists own changes not yet handed to the relay, oldest
	// first, at most n.
	Pending(ctx context.Context, n int) ([]Outgoing, error)
	// MarkHanded records that the items with these keys are with the relay.
	MarkHanded(ctx context.Context, keys []string) error
	// RootPost is the guid of the post a comment, like or poll
	// (typ: Comment, Like, Poll, PollParticipation) belongs to.
	RootPost(ctx context.Context, typ, guid string) (string, bool, error)
	// PostAudience is who an own post went to (for relaying others'
	// comments and likes on it).
	PostAudience(ctx context.Context, postGUID string) (public bool, to []Recipient, err error)
	// Changed delivers a value whenever the pod wrote something the
	// engine may have to send.
	Changed() <-chan struct{}
}

// ErrNoIdentity is what Host.Self returns before the identity and its key
// exist: the engine waits.
var ErrNoIdentity = errors.New("federation: no identity or key yet")

// Self is the user as the engine needs them.
type Self struct {
	GUID     string
	Handle   string // username@domain; @localhost before enrolment
	Username string
	Key      *rsa.PrivateKey
	RelayURL string // "" when no relay is set up
	Profile  public.Profile
	// Former are the relays the identity moved away from: their inboxes
	// are still read (pods that did not follow the move yet deliver
	// there).
	Former []FormerRelay
	// Device is this device's key (hex); Devices the identity's devices
	// (the registry without revoked ones, sorted; empty while no device
	// was ever paired). With devices, the relay is told the list and each
	// device pulls the inbox with its own cursor: every device receives
	// every envelope, and the store applies each entity once.
	Device  string
	Devices []string
}

// FormerRelay is a relay the identity moved away from, and who it was
// there.
type FormerRelay struct {
	URL      string `json:"url"`
	Username string `json:"username"`
	Handle   string `json:"handle"`
}

// Person is a remote person with their pinned key.
type Person struct {
	GUID   string
	Handle string
	Key    *rsa.PublicKey
}

// Recipient is someone an item goes to. Handle is required to reach them;
// GUID is needed for private deliveries (looked up when empty).
type Recipient struct {
	GUID   string
	Handle string
}

// Accepted is a verified entity to store. DeliveryKey identifies the
// delivery (relay host and inbox id, or "fetch"): entities without a guid
// of their own (Contact) are stored once per delivery, so sharing again
// after stopping is not mistaken for a duplicate.
type Accepted struct {
	Payload     []byte
	Entity      entity.Entity
	DeliveryKey string
}

// Outgoing is one own change to send.
type Outgoing struct {
	// Key is what MarkHanded records (unique per change).
	Key string
	// GUID is the relay's deduplication guid (with the recipient URL).
	GUID       string
	EntityType string
	// Payload is the complete entity XML (a relayable's author_signature
	// included).
	Payload []byte
	// Sender signs the envelope when it is not the identity as it is
	// now: a former diaspora* ID announcing its move (AccountMigration
	// is sent by the old identity). The key is the same.
	Sender     string
	Public     bool
	Recipients []Recipient
	// Contact items get diaspora's longer retry schedule.
	Contact bool
	// PublishType/PublishGUID: serve the signed envelope on the relay's
	// /fetch under this type and guid (public entities).
	PublishType, PublishGUID string
	// UnpublishType/UnpublishGUID: a retraction: stop serving this.
	UnpublishType, UnpublishGUID string
	// UpdateProfile: also update the relay's hCard/WebFinger profile.
	UpdateProfile *public.Profile
	// Uploads are media the entity links to on the relay (photos,
	// avatars), uploaded before anything is handed over. The relay names
	// a file after its content, so the entity can name it in advance and
	// uploading again changes nothing.
	Uploads []Upload
}

// Upload is one media file for the relay.
type Upload struct {
	Name string // the relay's name for it (for logs and checks)
	Load func() (contentType string, data []byte, err error)
}

// Config configures an Engine.
type Config struct {
	Host Host
	// Discovery finds people and fetches public entities.
	Discovery *discover.Discoverer
	// Relay is the client for the relay's owner API; its timeout must
	// cover PollWait.
	Relay *httpclient.Client
	Log   *slog.Logger
	Now   func() time.Time
	// PollWait is how long one inbox pull waits for news (default 25 s).
	PollWait time.Duration
	// Backoff is the first wait after a failure (default 1 s; doubles up
	// to 2 min).
	Backoff time.Duration
	// FetchDepth bounds chains of fetched parents (default 3).
	FetchDepth int
	// OnState is told each change of Status.State ("connecting",
	// "connected", "error"); it must not block.
	OnState func(state string)
}

// Engine runs federation for one pod. Safe for concurrent use.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	keys keyCache

	wake  chan struct{} // relay configured / poked
	moved chan struct{} // a relay move (formerRelays looks again)

	mu     sync.Mutex
	status Status

	devicesMu  sync.Mutex
	devicesPut string // the relay and device list the relay was last told
}

// Status is what the API shows about federation.
type Status struct {
	// State: "off" (no relay), "connecting", "connected", "error".
	State      string `json:"state"`
	Relay      string `json:"relay,omitempty"`
	DiasporaID string `json:"diaspora_id,omitempty"`
	// InboxBacklog: items the last pull returned beyond what was
	// processed so far (0 when caught up).
	InboxBacklog  int       `json:"inbox_backlog"`
	OutboxPending int       `json:"outbox_pending"`
	Received      int64     `json:"received"`
	Rejected      int64     `json:"rejected"`
	Handed        int64     `json:"handed"`
	LastContact   time.Time `json:"last_contact,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
}

// New builds an engine; Run starts it.
func New(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 25 * time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.FetchDepth <= 0 {
		cfg.FetchDepth = 3
	}
	return &Engine{cfg: cfg, log: cfg.Log, wake: make(chan struct{}, 1), moved: make(chan struct{}, 1), status: Status{State: "off"},
		keys: keyCache{m: map[string]Person{}}}
}

// Status reports the engine's state.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

func (e *Engine) update(fn func(*Status)) {
	e.mu.Lock()
	before := e.status.State
	fn(&e.status)
	after := e.status.State
	e.mu.Unlock()
	if after != before && e.cfg.OnState != nil {
		e.cfg.OnState(after)
	}
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// keyCache holds pinned keys read from the pod, bounded.
type keyCache struct {
	mu sync.Mutex
	m  map[string]Person
}

const maxCachedKeys = 10_000

func (c *keyCache) get(handle string) (Person, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[handle]
	return p, ok
}

func (c *keyCache) put(p Person) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedKeys {
		clear(c.m) // crude but bounded; the pod answers misses
	}
	c.m[p.Handle] = p
}
