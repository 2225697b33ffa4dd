// Package pod is Seedpod's one wiring point: Open(ctx, Config) turns a
// configuration into a running pod (data directory, database, and later the
// op log, federation and drafts watcher), and its methods are the use cases
// the API offers.
//
// Only this package wires parts together. It is imported by main, app and
// pod/web; it must not import them, net/http server code or Wails.
package pod

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"seedpod/pod/datadir"
	"seedpod/pod/federation"
	"seedpod/pod/httpclient"
	"seedpod/pod/keylock"
	"seedpod/pod/store"
)

// DatabaseName is the pod database inside the data directory.
const DatabaseName = "pod.db"

// Config is everything Open needs. The zero value is a pod in the default
// data directory.
type Config struct {
	// DataDir overrides the data directory ($XDG_DATA_HOME/seedpod).
	DataDir string
	// Version is the binary's version, reported by Status.
	Version string
	// Logger receives the pod's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// KeyBits is the size of the identity's RSA key; 0 means
	// DefaultKeyBits. Tests use smaller keys to save time.
	KeyBits int
	// KeyLock are the passphrase lock's derivation costs for new locks;
	// nil means keylock.DefaultParams (about a second and 256 MiB). Tests
	// use cheap ones.
	KeyLock *keylock.Params
	// Federation switches the federation engine on (serve and the window
	// do; tests of the offline pod leave it nil). It runs in the
	// background until Close.
	Federation *FederationConfig
	// DraftsFolder is the watched drafts folder (pod/drafts; the modes use
	// drafts.DefaultFolder, ~/Seedpod/Drafts); "" watches none.
	DraftsFolder string
	// Sync turns device sync on (devicesync.go); nil: off.
	Sync *SyncConfig
}

// FederationConfig configures the federation engine.
type FederationConfig struct {
	// Outbound is the guarded client for discovery and fetches; it must
	// not follow redirects (the engine follows /fetch redirects itself).
	// nil: a production client.
	Outbound *httpclient.Client
	// Relay is the client for the relay's owner API; its timeout must
	// cover PollWait. nil: a production client.
	Relay *httpclient.Client
	// PollWait is how long an inbox pull waits for news (default 25 s).
	PollWait time.Duration
	// Backoff is the first wait after a failure (default 1 s).
	Backoff time.Duration
}

// Pod is an open pod. It is safe for concurrent use.
type Pod struct {
	cfg     Config
	logger  *slog.Logger
	dir     *datadir.Dir
	db      *store.DB
	log     *store.Log
	started time.Time

	html    htmlCache   // rendered post HTML (htmlcache.go)
	filters filterCache // the mute filters as last read (filters.go)

	mu     sync.Mutex
	keygen *keygen
	key    *rsa.PrivateKey // the identity key once read (cachedKey) or unlocked (keys.go)

	unlockMu sync.Mutex     // one lock, unlock or restore of the key at a time
	wg       sync.WaitGroup // background work (key generation, federation)

	fed           *federation.Engine // nil without Config.Federation
	fedListeners  map[int]func(string)
	fedListenerID int
	changed       chan struct{}      // a commit happened (federation's wake-up)
	stop          context.CancelFunc // stops background work

	drafts *draftsFolder // nil without Config.DraftsFolder (draftsfolder.go)

	bgCtx   context.Context // ends when the pod closes
	sync    *deviceSync     // nil without Config.Sync, or when it failed to start (devicesync.go)
	syncErr error           // why sync did not start
}

// Open opens the pod's data directory (creating it), takes its lock, and
// opens and migrates the database. Every refusal (unwritable or locked
// directory, foreign or too-new database) leaves the files as they were.
func Open(ctx context.Context, cfg Config) (*Pod, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeyBits == 0 {
		cfg.KeyBits = DefaultKeyBits
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := cfg.DataDir
	if path == "" {
		p, err := datadir.Default(os.Getenv)
		if err != nil {
			return nil, err
		}
		path = p
	}
	dir, err := datadir.Open(path)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, dir.Join(DatabaseName), store.Options{})
	if err != nil {
		dir.Close()
		return nil, err
	}
	if applied := db.Applied(); len(applied) > 0 {
		log.Info("database migrated", "path", db.Path(), "applied", applied, "schema", db.SchemaVersion())
	}
	oplogLog, err := db.OpenLog(ctx, cfg.Now)
	if err != nil {
		db.Close()
		dir.Close()
		return nil, err
	}
	p := &Pod{cfg: cfg, logger: log, dir: dir, db: db, log: oplogLog, started: cfg.Now(), changed: make(chan struct{}, 1)}
	p.watchFilters()
	bg, stop := context.WithCancel(context.Background())
	p.stop = stop
	if fc := cfg.Federation; fc != nil {
		p.startFederation(bg, *fc)
	}
	p.startDraftsFolder(bg)
	p.bgCtx = bg
	if sc := cfg.Sync; sc != nil {
		if err := p.startSync(bg, *sc); err != nil {
			p.syncErr = err
			log.Error("device sync: not started", "err", err)
		}
	}
	log.Info("pod open", "data", dir.Path(), "schema", db.SchemaVersion(), "version", cfg.Version)
	return p, nil
}

// DataDir is the absolute data directory.
func (p *Pod) DataDir() string { return p.dir.Path() }

// Close closes the database and releases the data directory.
func (p *Pod) Close() error {
	p.stop()
	p.wg.Wait()
	err := errors.Join(p.db.Close(), p.dir.Close())
	if err != nil {
		return fmt.Errorf("close pod: %w", err)
	}
	return nil
}

// Status is the pod's health summary, as GET /api/seedpod/v1/status shows it.
type Status struct {
	Version       string    `json:"version"`
	DataDir       string    `json:"data_dir"`
	SchemaVersion int       `json:"schema_version"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds int64     `json:"uptime_seconds"`
}

// Status reports the pod's version, data directory, schema and uptime. It
// asks the database for its schema version, so a status that answers means
// the database answers too.
func (p *Pod) Status(ctx context.Context) (Status, error) {
	var schema int
	if err := p.db.R.QueryRowContext(ctx, "PRAGMA user_version").Scan(&schema); err != nil {
		return Status{}, fmt.Errorf("read status: %w", err)
	}
	now := p.cfg.Now()
	return Status{
		Version:       p.cfg.Version,
		DataDir:       p.dir.Path(),
		SchemaVersion: schema,
		StartedAt:     p.started.UTC().Truncate(time.Second),
		UptimeSeconds: int64(now.Sub(p.started) / time.Second),
	}, nil
}

// DB is the pod's database, for tests and tools that inspect it.
func (p *Pod) DB() *store.DB { return p.db }

// Log is this device's op log.
func (p *Pod) Log() *store.Log { return p.log }
