package pod

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"seedpod/pod/keylock"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// DefaultKeyBits is the identity key size: diaspora* pods generate 4096-bit
// RSA keys.
const DefaultKeyBits = 4096

// keyEstimate is what a 4096-bit key takes on a slow laptop core; the
// progress the API reports is elapsed/estimate, capped below 100 % until
// the key exists (RSA generation has no real progress to report).
const keyEstimate = 8 * time.Second

// Identity is the user's identity and the state of its key.
type Identity struct {
	Exists   bool      `json:"exists"`
	GUID     string    `json:"guid,omitempty"`
	Username string    `json:"username,omitempty"`
	Handle   string    `json:"handle,omitempty"`
	Name     string    `json:"name,omitempty"`
	Key      KeyStatus `json:"key"`
}

// KeyStatus reports the RSA key: "none", "generating", "ready" or "failed".
type KeyStatus struct {
	State       string  `json:"state"`
	Fingerprint string  `json:"fingerprint,omitempty"` // SHA-256 of the public key (DER), hex
	Progress    float64 `json:"progress"`              // 0..1, an estimate while generating
	Error       string  `json:"error,omitempty"`
	// Locked: the key is sealed with a passphrase at rest (keys.go); State
	// is "locked" until it is unlocked, "ready" after.
	Locked bool `json:"locked,omitempty"`
}

// SeededAspects are the aspects a new identity starts with, as diaspora*
// seeds them.
var SeededAspects = []string{"Family", "Friends", "Work", "Acquaintances"}

var usernameRE = regexp.MustCompile(`^[a-z0-9_][a-z0-9_.-]{0,31}$`)

// keygen is the background generation of the identity key.
type keygen struct {
	started time.Time
	done    bool
	err     error
}

// Identity reports the identity and its key.
func (p *Pod) Identity(ctx context.Context) (Identity, error) {
	me, err := p.db.Me(ctx)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Key: KeyStatus{State: "none"}}
	if me.Exists() {
		id.Exists, id.GUID, id.Username, id.Handle = true, me.GUID, me.Username, me.Handle()
		first, err := store.Field(ctx, p.db.R, "profile/first_name")
		if err != nil {
			return Identity{}, err
		}
		last, err := store.Field(ctx, p.db.R, "profile/last_name")
		if err != nil {
			return Identity{}, err
		}
		id.Name = joinName(first, last)
	}
	var pemText string
	err = p.db.R.QueryRowContext(ctx, "SELECT pem FROM identity_key WHERE id = 1").Scan(&pemText)
	switch {
	case err == nil:
		fp, ferr := storedFingerprint(pemText)
		if ferr != nil {
			return Identity{}, ferr
		}
		id.Key = KeyStatus{State: "ready", Fingerprint: fp, Progress: 1}
		if keylock.IsSealed([]byte(pemText)) {
			id.Key.Locked = true
			p.mu.Lock()
			if p.key == nil {
				id.Key.State = "locked"
			}
			p.mu.Unlock()
		}
		return id, nil
	case !isNoRows(err):
		return Identity{}, fmt.Errorf("read identity key: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.keygen; g != nil {
		switch {
		case g.err != nil:
			id.Key = KeyStatus{State: "failed", Error: g.err.Error()}
		case !g.done:
			prog := float64(p.cfg.Now().Sub(g.started)) / float64(keyEstimate)
			id.Key = KeyStatus{State: "generating", Progress: min(prog, 0.95)}
		}
	}
	return id, nil
}

func joinName(first, last string) string {
	switch {
	case last == "":
		return first
	case first == "":
		return last
	}
	return first + " " + last
}

// CreateIdentity creates the user's identity: a person guid, the username,
// the display name and the four seeded aspects, as ops; and starts the
// RSA key generation in the background (Identity reports its progress).
func (p *Pod) CreateIdentity(ctx context.Context, name, username string) (Identity, error) {
	if !usernameRE.MatchString(username) {
		return Identity{}, fmt.Errorf("%w: username %q: use 1 to 32 lowercase letters, digits, '_', '.' or '-', starting with a letter, digit or '_'", ErrInvalid, username)
	}
	if err := checkText("name", name, 32); err != nil { // diaspora's first_name limit
		return Identity{}, err
	}
	if name == "" {
		name = username
	}
	err := p.log.Write(ctx, func(w *store.Writer) error {
		me, err := w.Me()
		if err != nil {
			return err
		}
		if me.Exists() {
			return fmt.Errorf("%w: the identity %s exists already", ErrConflict, me.Handle())
		}
		now := w.Now().UnixMilli()
		fields := []oplog.SetField{
			{Key: "identity/guid", Value: newGUID()},
			{Key: "identity/username", Value: username},
			{Key: "identity/created_at", Value: strconv.FormatInt(now, 10)},
			{Key: "profile/first_name", Value: name},
			{Key: "profile/searchable", Value: "true"},
		}
		for i, a := range SeededAspects {
			fields = append(fields,
				oplog.SetField{Key: fmt.Sprintf("aspect/%d/name", i+1), Value: a},
				oplog.SetField{Key: fmt.Sprintf("aspect/%d/order", i+1), Value: strconv.Itoa(i)})
		}
		for _, f := range fields {
			if _, err := w.Append(f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Identity{}, err
	}
	p.logger.Info("identity created", "username", username)
	p.startKeygen()
	return p.Identity(ctx)
}

// startKeygen generates the identity key in the background unless one
// exists or is being made.
func (p *Pod) startKeygen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keygen != nil && (!p.keygen.done || p.keygen.err == nil) {
		return
	}
	g := &keygen{started: p.cfg.Now()}
	p.keygen = g
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := p.generateKey()
		p.mu.Lock()
		g.done, g.err = true, err
		p.mu.Unlock()
		if err != nil {
			p.logger.Error("identity key generation failed", "err", err)
			return
		}
		p.logger.Info("identity key ready", "bits", p.cfg.KeyBits, "seconds", p.cfg.Now().Sub(g.started).Seconds())
	}()
}

func (p *Pod) generateKey() error {
	key, err := rsa.GenerateKey(rand.Reader, p.cfg.KeyBits)
	if err != nil {
		return fmt.Errorf("generate a %d-bit RSA key: %w", p.cfg.KeyBits, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode the identity key: %w", err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.db.W.ExecContext(ctx, "INSERT OR IGNORE INTO identity_key (id, pem, created_at) VALUES (1, ?, ?)",
		pemText, p.cfg.Now().UnixMilli()); err != nil {
		return fmt.Errorf("store the identity key: %w", err)
	}
	return nil
}

// IdentityKey is the identity's RSA key, or ErrNoIdentity while there is none.
func (p *Pod) IdentityKey(ctx context.Context) (*rsa.PrivateKey, error) {
	var pemText string
	err := p.db.R.QueryRowContext(ctx, "SELECT pem FROM identity_key WHERE id = 1").Scan(&pemText)
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: the identity key is not ready", ErrNoIdentity)
	}
	if err != nil {
		return nil, fmt.Errorf("read identity key: %w", err)
	}
	if keylock.IsSealed([]byte(pemText)) {
		p.mu.Lock()
		k := p.key
		p.mu.Unlock()
		if k == nil {
			return nil, ErrKeyLocked
		}
		return k, nil
	}
	return parseKeyPEM(pemText)
}

func fingerprint(pemText string) (string, error) {
	b, _ := pem.Decode([]byte(pemText))
	if b == nil {
		return "", errors.New("identity key: stored PEM does not decode")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return "", fmt.Errorf("identity key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return "", fmt.Errorf("identity key: %T is not RSA", k)
	}
	der, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:]), nil
}

// newGUID is a diaspora*-style guid: 32 lowercase hex characters (128
// random bits).
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// checkText refuses text that is not valid UTF-8, holds control characters
// other than tab and newlines, or is longer than max characters.
func checkText(what, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	n := 0
	for i, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return fmt.Errorf("%w: %s has a control character at byte %d", ErrInvalid, what, i)
		}
		n++
	}
	if n > max {
		return fmt.Errorf("%w: %s is %d characters long (at most %d)", ErrInvalid, what, n, max)
	}
	return nil
}
