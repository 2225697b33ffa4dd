// Package relay is the relay: the always-on public face of one or more
// Seedpod identities under a domain. It serves what is public (discovery
// documents, profile pages), keeps a durable inbox of what remote pods
// deliver (private deliveries stay ciphertext), and talks to the identities'
// own devices through an owner API whose every request is signed with the
// identity key. It never holds a private key, so it can neither read private
// content nor forge anything.
//
// It owns its own SQLite database (pod/store with the relay's schema). The
// public pages are pod/relay/public, the request signatures
// pod/relay/ownerauth; this package wires them to the database and the
// inbox, and delivers the outbox with retries.
package relay

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"seedpod/pod/datadir"
	"seedpod/pod/relay/ownerauth"
	"seedpod/pod/relay/public"
	"seedpod/pod/relay/ratelimit"
	"seedpod/pod/store"
	"seedpod/sync/p2p"
)

// ApplicationID marks the relay's database ("SDRL").
const ApplicationID int32 = 0x5344524c

// DatabaseName is the relay database inside its data directory.
const DatabaseName = "relay.db"

//go:embed migrations/*.sql
var migrations embed.FS

var schema = &store.Schema{AppID: ApplicationID, Migrations: migrations, Dir: "migrations"}

// Limits. Public envelopes are at most envelope.MaxEnvelopeBytes (1 MiB),
// encrypted ones envelope.MaxEncryptedBytes (2 MiB); owner requests are
// small JSON.
const (
	maxPublicBody   = 1 << 20
	maxPrivateBody  = 2 << 20
	maxOwnerBody    = 256 << 10
	defaultMaxInbox = 100_000
	// maxPullItems and maxPullBytes bound one inbox pull.
	maxPullItems = 100
	maxPullBytes = 8 << 20
	// maxWait bounds a long poll.
	maxWait = 30 * time.Second
)

// Config is what Open needs.
type Config struct {
	// Domain is host[:port] the relay is reached at; identities are
	// username@Domain and public URLs start https://Domain.
	Domain string
	// DataDir overrides the data directory ($XDG_DATA_HOME/seedpod-relay).
	DataDir string
	Version string
	Logger  *slog.Logger
	Now     func() time.Time
	// MaxInbox caps undelivered items per inbox: each identity's private
	// inbox, and the shared public one (0: 100,000).
	MaxInbox int
	// Outbound delivers the outbox (pod/httpclient); nil: the outbox
	// accepts items but nothing is delivered (tests of the inbox alone).
	Outbound Poster
	// P2PListen are the libp2p listen addresses of the circuit relay for
	// the hosted identities' devices (p2p.go); nil runs none.
	P2PListen []string
	// RateLimit limits requests per client address (IPv6 per /64); the
	// zero value means DefaultRateLimit. NoRateLimit turns it off (load
	// tests from one address).
	RateLimit   ratelimit.Options
	NoRateLimit bool
	// MediaQuota is the bytes of media one identity may store (0:
	// DefaultMediaQuota).
	MediaQuota int64
	// MaxPublishedItems and MaxPublishedBytes bound one identity's
	// published entities (0: the defaults).
	MaxPublishedItems int64
	MaxPublishedBytes int64
}

// DefaultRateLimit lets a busy remote pod deliver in bursts (diaspora sends
// with up to 20 concurrent requests) and keeps one address from flooding.
var DefaultRateLimit = ratelimit.Options{Rate: 50, Burst: 200}

// Relay is an open relay. Handler serves it.
type Relay struct {
	cfg     Config
	log     *slog.Logger
	dir     *datadir.Dir
	db      *store.DB
	inbox   *inboxWriter
	deliver *deliverer
	auth    *ownerauth.Verifier
	handler http.Handler

	mu      sync.Mutex
	waiters chan struct{} // closed and replaced on every inbox commit

	mediaLocks [32]sync.Mutex

	p2p     *p2p.RelayService                    // nil without Config.P2PListen (p2p.go)
	devices atomic.Pointer[map[peer.ID][]string] // device → the usernames that list it, for the circuit relay's ACL
}

// DefaultDataDir is $XDG_DATA_HOME/seedpod-relay.
func DefaultDataDir() (string, error) {
	d, err := datadir.Default(os.Getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(d), "seedpod-relay"), nil
}

// Open opens the relay's data directory (taking its lock) and database.
func Open(ctx context.Context, cfg Config) (*Relay, error) {
	if cfg.Domain == "" {
		return nil, errors.New("relay: no domain")
	}
	cfg.Domain = strings.ToLower(cfg.Domain)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxInbox <= 0 {
		cfg.MaxInbox = defaultMaxInbox
	}
	if cfg.MediaQuota <= 0 {
		cfg.MediaQuota = DefaultMediaQuota
	}
	if cfg.MaxPublishedItems <= 0 {
		cfg.MaxPublishedItems = DefaultMaxPublishedItems
	}
	if cfg.MaxPublishedBytes <= 0 {
		cfg.MaxPublishedBytes = DefaultMaxPublishedBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		d, err := DefaultDataDir()
		if err != nil {
			return nil, err
		}
		cfg.DataDir = d
	}
	dir, err := datadir.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, dir.Join(DatabaseName), store.Options{Schema: schema})
	if err != nil {
		dir.Close()
		return nil, err
	}
	r := &Relay{cfg: cfg, log: log, dir: dir, db: db, waiters: make(chan struct{})}
	r.inbox = newInboxWriter(db, cfg.Now, cfg.MaxInbox, r.wake)
	r.auth = &ownerauth.Verifier{Keys: r.identityKey, Nonces: nonceStore{db, cfg.Now}, Now: cfg.Now,
		OnError: func(req *http.Request, err error) {
			if !errors.Is(err, ownerauth.ErrUnsigned) {
				log.Info("owner request refused", "path", req.URL.Path, "err", err)
			}
		}}
	pub, err := public.New(directory{db}, public.Options{Domain: cfg.Domain, Version: cfg.Version, Logger: log})
	if err != nil {
		r.Close()
		return nil, err
	}
	r.handler = r.routes(pub)
	if !cfg.NoRateLimit {
		rl := cfg.RateLimit
		if rl.Rate == 0 {
			rl = DefaultRateLimit
		}
		if rl.Now == nil {
			rl.Now = cfg.Now
		}
		r.handler = ratelimit.New(rl).Middleware(r.handler)
	}
	if cfg.Outbound != nil {
		r.deliver = newDeliverer(r, cfg.Outbound)
	}
	if len(cfg.P2PListen) > 0 {
		if err := r.startP2P(ctx); err != nil {
			r.Close()
			return nil, err
		}
	}
	log.Info("relay open", "domain", cfg.Domain, "data", dir.Path())
	return r, nil
}

// Handler is the relay's whole HTTP surface.
func (r *Relay) Handler() http.Handler { return r.handler }

// DataDir is the relay's data directory.
func (r *Relay) DataDir() string { return r.dir.Path() }

// Close stops the inbox writer and closes the database.
func (r *Relay) Close() error {
	if r.p2p != nil {
		if err := r.p2p.Close(); err != nil {
			r.log.Warn("relay: close the circuit relay", "err", err)
		}
	}
	if r.deliver != nil {
		r.deliver.close()
	}
	if r.inbox != nil {
		r.inbox.close()
	}
	return errors.Join(r.db.Close(), r.dir.Close())
}

// wake tells long-polling readers that the inbox changed.
func (r *Relay) wake() {
	r.mu.Lock()
	close(r.waiters)
	r.waiters = make(chan struct{})
	r.mu.Unlock()
}

func (r *Relay) changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waiters
}

// Invite creates a one-time enrollment code for username, valid for ttl. It
// opens the database directly (SQLite allows it beside a running relay), so
// `seedpod relay invite` works while the relay serves.
func Invite(ctx context.Context, dataDir, username string, ttl time.Duration, now time.Time) (string, error) {
	if !validUsername(username) {
		return "", fmt.Errorf("invite: username %q: use 1–32 lowercase letters, digits, '_', '-' or '.', starting and ending with a letter or digit", username)
	}
	if dataDir == "" {
		d, err := DefaultDataDir()
		if err != nil {
			return "", err
		}
		dataDir = d
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("invite: %w", err)
	}
	db, err := store.Open(ctx, filepath.Join(dataDir, DatabaseName), store.Options{Schema: schema, Readers: 1})
	if err != nil {
		return "", err
	}
	defer db.Close()
	var taken int
	if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM identities WHERE username = ?", username).Scan(&taken); err != nil {
		return "", fmt.Errorf("invite: %w", err)
	}
	if taken > 0 {
		return "", fmt.Errorf("invite: %q is already enrolled on this relay", username)
	}
	var raw [20]byte
	_, _ = rand.Read(raw[:])
	code := strings.ToLower(base32.StdEncoding.EncodeToString(raw[:]))
	h := sha256.Sum256([]byte(code))
	_, err = db.W.ExecContext(ctx, "INSERT INTO invites (code_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
		h[:], username, now.Unix(), now.Add(ttl).Unix())
	if err != nil {
		return "", fmt.Errorf("invite: %w", err)
	}
	return code, nil
}

// validUsername: 1–32 of [a-z0-9_.-], starting and ending with a letter or
// digit — usernames name directories (media/<username>), so "." and ".."
// must be impossible.
func validUsername(s string) bool {
	if len(s) == 0 || len(s) > 32 || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// nonceStore is ownerauth.NonceStore on the relay database.
type nonceStore struct {
	db  *store.DB
	now func() time.Time
}

func (n nonceStore) Remember(ctx context.Context, identity, nonce string, expires time.Time) (bool, error) {
	res, err := n.db.W.ExecContext(ctx,
		"INSERT INTO nonces (username, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
		identity, nonce, expires.Unix())
	if err != nil {
		return false, fmt.Errorf("remember nonce: %w", err)
	}
	added, _ := res.RowsAffected()
	if added == 1 {
		// Forget what can no longer be replayed (its timestamp is out of
		// the window): the table holds one window of requests at most.
		_, _ = n.db.W.ExecContext(ctx, "DELETE FROM nonces WHERE expires_at < ?", n.now().Unix())
	}
	return added == 0, nil
}
