package pod

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"seedpod/pod/federation"
	"seedpod/pod/keylock"
)

// cheapLock keeps argon2 fast in tests (the default takes ~1 s, 256 MiB).
var cheapLock = &keylock.Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1}

func openKeyPod(t *testing.T, dir string) *Pod {
	t.Helper()
	p, err := Open(context.Background(), Config{DataDir: dir, KeyBits: 1024, KeyLock: cheapLock})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func waitKeyReady(t *testing.T, p *Pod) Identity {
	t.Helper()
	for range 500 {
		id, err := p.Identity(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if id.Key.State == "ready" {
			return id
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the identity key did not become ready")
	return Identity{}
}

// The key at rest: locked with a passphrase it survives a restart locked
// (federation waits), opens only with the passphrase, prints as a paper
// backup that restores it, and can be stored plain again.
func TestKeyLockUnlockPaperRestore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pod")
	p := openKeyPod(t, dir)
	if _, err := p.CreateIdentity(ctx, "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	id := waitKeyReady(t, p)
	before, err := p.IdentityKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.KeyPaper(ctx, true); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a sealed paper backup of an unlocked key: %v, want ErrInvalid", err)
	}
	if err := p.LockKey(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("lock with an empty passphrase: %v, want ErrInvalid", err)
	}
	if err := p.LockKey(ctx, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	// Still usable until the pod closes.
	if k, err := p.IdentityKey(ctx); err != nil || !k.Equal(before) {
		t.Fatalf("the key right after locking: %v", err)
	}
	var atRest string
	if err := p.db.R.QueryRowContext(ctx, "SELECT pem FROM identity_key").Scan(&atRest); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(atRest, "PRIVATE KEY-----") || !keylock.IsSealed([]byte(atRest)) {
		t.Fatalf("the key at rest is not sealed: %.60q", atRest)
	}
	page, err := p.KeyPaper(ctx, true)
	if err != nil || !strings.Contains(string(page), "<html") {
		t.Fatalf("paper backup: %v %.80q", err, page)
	}
	if k, err := p.Keys(ctx); err != nil || !k.Locked || k.State != "ready" || k.BackedUpAt == nil || k.Params == nil ||
		k.Fingerprint != id.Key.Fingerprint {
		t.Fatalf("Keys after locking and printing: %+v, %v", k, err)
	}
	p.Close()

	// After a restart: locked; federation sees no identity; a wrong
	// passphrase is refused; the right one unlocks the same key.
	p = openKeyPod(t, dir)
	defer func() { p.Close() }()
	if id, err := p.Identity(ctx); err != nil || id.Key.State != "locked" || !id.Key.Locked || id.Key.Fingerprint != before2fp(t, before) {
		t.Fatalf("identity after restart: %+v, %v", id.Key, err)
	}
	if _, err := p.IdentityKey(ctx); !errors.Is(err, ErrKeyLocked) || !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("IdentityKey while locked: %v", err)
	}
	if _, err := (fedHost{p}).Self(ctx); !errors.Is(err, federation.ErrNoIdentity) {
		t.Fatalf("federation's Self while locked: %v, want federation.ErrNoIdentity (it waits)", err)
	}
	if err := p.UnlockKey(ctx, "wrong"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("unlock with a wrong passphrase: %v", err)
	}
	if err := p.UnlockKey(ctx, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	if k, err := p.IdentityKey(ctx); err != nil || !k.Equal(before) {
		t.Fatalf("the unlocked key: %v", err)
	}

	// The paper text of the locked key restores it (here over a key at
	// rest that was damaged); another key's backup is refused.
	sheet, err := keylock.NewSheet([]byte(atRest), "alice@localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, _ := keyPEM(other)
	otherSheet, err := keylock.NewSheet(otherPEM, "mallory", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.RestoreKey(ctx, otherSheet.Text(), ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("restore of another key: %v, want ErrInvalid", err)
	}
	mid := len(atRest) / 2
	if _, err := p.db.W.ExecContext(ctx, "UPDATE identity_key SET pem = ?", atRest[:mid]+"@"+atRest[mid+1:]); err != nil {
		t.Fatal(err)
	}
	if err := p.RestoreKey(ctx, sheet.Text(), "wrong"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("restore with a wrong passphrase: %v", err)
	}
	typo := strings.Replace(sheet.Text(), sheet.Lines()[2], strings.Replace(sheet.Lines()[2], sheet.Lines()[2][8:9], "Z", 1), 1)
	if err := p.RestoreKey(ctx, typo, "correct horse battery staple"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "3") {
		t.Fatalf("restore from a text with a typo on line 3: %v", err)
	}
	if err := p.RestoreKey(ctx, sheet.Text(), "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	var restored string
	if err := p.db.R.QueryRowContext(ctx, "SELECT pem FROM identity_key").Scan(&restored); err != nil || restored != atRest {
		t.Fatalf("the key at rest after the restore differs (%v)", err)
	}

	// Stored plain again.
	if err := p.RemoveKeyLock(ctx, "wrong"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("remove the lock with a wrong passphrase: %v", err)
	}
	if err := p.RemoveKeyLock(ctx, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p = openKeyPod(t, dir)
	if k, err := p.IdentityKey(ctx); err != nil || !k.Equal(before) {
		t.Fatalf("the key after removing the lock and a restart: %v", err)
	}
}

func before2fp(t *testing.T, k *rsa.PrivateKey) string {
	t.Helper()
	pemText, err := keyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := keylock.Fingerprint(pemText)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}
