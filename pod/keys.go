package pod

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"seedpod/pod/keylock"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// The identity key at rest (issue 9): it can be locked with a passphrase
// (pod/keylock: argon2id + XChaCha20-Poly1305). The identity_key row then
// holds the armored sealed key instead of the PEM; the key is usable once
// unlocked, until the pod closes (it is kept in memory only). While it is
// locked, federation waits (the engine sees ErrNoIdentity) and nothing
// that needs the key works; everything local does. A paper backup (text
// lines with check codes and QR codes, pod/keylock) restores it.

// ErrKeyLocked: the identity key is locked at rest and was not unlocked
// since the pod started. It wraps ErrNoIdentity (nothing can sign).
var ErrKeyLocked = fmt.Errorf("%w: the identity key is locked: unlock it with its passphrase", ErrNoIdentity)

// ErrWrongPassphrase: the passphrase does not open the identity key.
var ErrWrongPassphrase = fmt.Errorf("%w: wrong passphrase", ErrForbidden)

// KeyInfo is GET /api/seedpod/v1/keys (API.md §6.2).
type KeyInfo struct {
	State       string `json:"state"` // none, generating, ready, locked (at rest and not unlocked)
	Fingerprint string `json:"fingerprint,omitempty"`
	Storage     string `json:"storage"` // where the key is kept: "file" (the pod's database)
	// Locked: the key is sealed with a passphrase at rest (it may be
	// unlocked in memory: State says).
	Locked     bool        `json:"locked"`
	BackedUpAt *time.Time  `json:"backed_up_at,omitempty"`
	Params     *LockParams `json:"lock_params,omitempty"`
}

// LockParams are the key derivation's costs of a locked key.
type LockParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// keyBackedUpKey is the field that records the last paper backup (ms).
const keyBackedUpKey = "keys/backed_up_at"

// storedKey reads the identity_key row: its PEM or armored sealed key.
func (p *Pod) storedKey(ctx context.Context) (string, bool, error) {
	var text string
	err := p.db.R.QueryRowContext(ctx, "SELECT pem FROM identity_key WHERE id = 1").Scan(&text)
	if isNoRows(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read identity key: %w", err)
	}
	return text, true, nil
}

// Keys reports the identity key's state.
func (p *Pod) Keys(ctx context.Context) (KeyInfo, error) {
	id, err := p.Identity(ctx)
	if err != nil {
		return KeyInfo{}, err
	}
	info := KeyInfo{State: id.Key.State, Fingerprint: id.Key.Fingerprint, Storage: "file", Locked: id.Key.Locked}
	if text, ok, err := p.storedKey(ctx); err != nil {
		return KeyInfo{}, err
	} else if ok && keylock.IsSealed([]byte(text)) {
		if in, err := keylock.Inspect([]byte(text)); err == nil {
			info.Params = &LockParams{Time: in.Params.Time, MemoryKiB: in.Params.MemoryKiB, Threads: in.Params.Threads}
		}
	}
	at, err := store.Field(ctx, p.db.R, keyBackedUpKey)
	if err != nil {
		return KeyInfo{}, err
	}
	if ms, err := strconv.ParseInt(at, 10, 64); err == nil && ms > 0 {
		t := time.UnixMilli(ms).UTC()
		info.BackedUpAt = &t
	}
	return info, nil
}

// lockParams are the derivation costs new locks use.
func (p *Pod) lockParams() keylock.Params {
	if p.cfg.KeyLock != nil {
		return *p.cfg.KeyLock
	}
	return keylock.DefaultParams()
}

// LockKey seals the identity key with passphrase at rest (again, with a
// new passphrase, when it is locked already and unlocked now). The key
// stays usable until the pod closes.
func (p *Pod) LockKey(ctx context.Context, passphrase string) error {
	p.unlockMu.Lock()
	defer p.unlockMu.Unlock()
	k, err := p.cachedKey(ctx)
	if err != nil {
		return err
	}
	plain, err := keyPEM(k)
	if err != nil {
		return err
	}
	sealed, err := keylock.Seal(plain, []byte(passphrase), p.lockParams())
	defer debug.FreeOSMemory() // argon2 took a few hundred MiB for a moment
	if errors.Is(err, keylock.ErrBadPassphrase) {
		return fmt.Errorf("%w: passphrase: %v", ErrInvalid, err)
	}
	if err != nil {
		return fmt.Errorf("lock the identity key: %w", err)
	}
	return p.writeStoredKey(ctx, string(keylock.Armor(sealed)))
}

// UnlockKey opens a locked identity key with passphrase for as long as the
// pod runs (the key at rest stays locked). One attempt at a time; a wrong
// passphrase costs a second more, so guessing stays slow.
func (p *Pod) UnlockKey(ctx context.Context, passphrase string) error {
	p.unlockMu.Lock()
	defer p.unlockMu.Unlock()
	k, err := p.openStoredKey(ctx, passphrase)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.key = k
	p.mu.Unlock()
	p.logger.Info("identity key unlocked")
	p.federationWake()
	return nil
}

// RemoveKeyLock stores the identity key unlocked again (the passphrase
// proves the user may).
func (p *Pod) RemoveKeyLock(ctx context.Context, passphrase string) error {
	p.unlockMu.Lock()
	defer p.unlockMu.Unlock()
	k, err := p.openStoredKey(ctx, passphrase)
	if err != nil {
		return err
	}
	plain, err := keyPEM(k)
	if err != nil {
		return err
	}
	if err := p.writeStoredKey(ctx, string(plain)); err != nil {
		return err
	}
	p.mu.Lock()
	p.key = k
	p.mu.Unlock()
	p.federationWake()
	return nil
}

// openStoredKey opens the sealed key at rest. ErrInvalid when it is not
// locked; ErrWrongPassphrase.
func (p *Pod) openStoredKey(ctx context.Context, passphrase string) (*rsa.PrivateKey, error) {
	text, ok, err := p.storedKey(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: there is no identity key yet", ErrNoIdentity)
	}
	if !keylock.IsSealed([]byte(text)) {
		return nil, fmt.Errorf("%w: the identity key is not locked", ErrInvalid)
	}
	plain, err := keylock.Open([]byte(text), []byte(passphrase))
	debug.FreeOSMemory()
	switch {
	case errors.Is(err, keylock.ErrWrongPassphrase), errors.Is(err, keylock.ErrBadPassphrase):
		time.Sleep(time.Second)
		return nil, ErrWrongPassphrase
	case err != nil:
		return nil, fmt.Errorf("open the identity key: %w", err)
	}
	return parseKeyPEM(string(plain))
}

// writeStoredKey replaces the key at rest (same key: only its form).
func (p *Pod) writeStoredKey(ctx context.Context, text string) error {
	if _, err := p.db.W.ExecContext(ctx, "UPDATE identity_key SET pem = ? WHERE id = 1", text); err != nil {
		return fmt.Errorf("store the identity key: %w", err)
	}
	return nil
}

// KeyPaper is the printable paper backup (HTML: text lines with check
// codes, QR codes, instructions). sealed: of the key as locked at rest (it
// must be locked; printing it needs the passphrase to restore); else of
// the plain key (it must be usable now), for a safe. Either records the
// time of the backup.
func (p *Pod) KeyPaper(ctx context.Context, sealed bool) ([]byte, error) {
	id, err := p.Identity(ctx)
	if err != nil {
		return nil, err
	}
	var data []byte
	if sealed {
		text, ok, err := p.storedKey(ctx)
		if err != nil {
			return nil, err
		}
		if !ok || !keylock.IsSealed([]byte(text)) {
			return nil, fmt.Errorf("%w: lock the key with a passphrase first, or print the plain key", ErrInvalid)
		}
		data = []byte(text)
	} else {
		k, err := p.cachedKey(ctx)
		if err != nil {
			return nil, err
		}
		if data, err = keyPEM(k); err != nil {
			return nil, err
		}
	}
	sheet, err := keylock.NewSheet(data, id.Handle, p.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("make the paper backup: %w", err)
	}
	page, err := sheet.HTML()
	if err != nil {
		return nil, fmt.Errorf("make the paper backup: %w", err)
	}
	err = p.log.Write(ctx, func(w *store.Writer) error {
		_, err := w.Append(oplog.SetField{Key: keyBackedUpKey, Value: strconv.FormatInt(p.cfg.Now().UnixMilli(), 10)})
		return err
	})
	return page, err
}

// RestoreKey restores the identity key from its paper backup (the text,
// typed or pasted; the passphrase when the sheet holds the locked key).
// The key must be the identity's: when the pod holds a key (even locked)
// its fingerprint must match; a pod without one, or whose key at rest is
// damaged, takes it. A sealed sheet is
// stored as it is (locked); a plain one plain.
func (p *Pod) RestoreKey(ctx context.Context, text, passphrase string) error {
	p.unlockMu.Lock()
	defer p.unlockMu.Unlock()
	me, err := p.db.Me(ctx)
	if err != nil {
		return err
	}
	if !me.Exists() {
		return fmt.Errorf("%w: create or import the identity first", ErrNoIdentity)
	}
	b, err := keylock.Restore(text)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	plain, atRest := b.Data, ""
	if b.Kind == keylock.KindSealed {
		if plain, err = keylock.Open(b.Data, []byte(passphrase)); err != nil {
			debug.FreeOSMemory()
			if errors.Is(err, keylock.ErrWrongPassphrase) || errors.Is(err, keylock.ErrBadPassphrase) {
				time.Sleep(time.Second)
				return ErrWrongPassphrase
			}
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		debug.FreeOSMemory()
		atRest = string(keylock.Armor(b.Data))
	}
	k, err := parseKeyPEM(string(plain))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if atRest == "" {
		pemText, err := keyPEM(k)
		if err != nil {
			return err
		}
		atRest = string(pemText)
	}
	fp, err := keylock.Fingerprint(plain)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if text, ok, err := p.storedKey(ctx); err != nil {
		return err
	} else if ok {
		held, err := storedFingerprint(text)
		switch {
		case err != nil:
			// The key at rest is damaged: nothing to compare with, and
			// repairing it is what the backup is for.
			p.logger.Warn("restoring the identity key over one that does not read", "err", err, "fingerprint", fp)
		case held != fp:
			return fmt.Errorf("%w: this backup holds another key (%s…) than the identity's (%s…)", ErrInvalid, fp[:12], held[:12])
		}
		if err := p.writeStoredKey(ctx, atRest); err != nil {
			return err
		}
	} else if _, err := p.db.W.ExecContext(ctx, "INSERT INTO identity_key (id, pem, created_at) VALUES (1, ?, ?)",
		atRest, p.cfg.Now().UnixMilli()); err != nil {
		return fmt.Errorf("store the identity key: %w", err)
	}
	p.mu.Lock()
	p.key = k
	p.mu.Unlock()
	p.federationWake()
	return nil
}

// storedFingerprint is the fingerprint of the key at rest, plain or locked.
func storedFingerprint(text string) (string, error) {
	if keylock.IsSealed([]byte(text)) {
		in, err := keylock.Inspect([]byte(text))
		if err != nil {
			return "", fmt.Errorf("identity key: %w", err)
		}
		return in.Fingerprint, nil
	}
	return fingerprint(text)
}

// keyPEM is the PKCS#8 PEM of k.
func keyPEM(k *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode the identity key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseKeyPEM reads an RSA private key (PKCS#8 or PKCS#1 PEM).
func parseKeyPEM(text string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(text))
	if b == nil {
		return nil, errors.New("identity key: the PEM does not decode")
	}
	if b.Type == "RSA PRIVATE KEY" {
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity key: %T is not RSA", k)
	}
	return rk, nil
}

// federationWake tells the engine something changed (the key became
// usable).
func (p *Pod) federationWake() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}
