package pod

import (
	"context"
	"slices"
	"testing"

	"seedpod/pod/archive/archivetest"
	"seedpod/pod/diaspora/entity"
)

// An imported diaspora* archive makes the archive's ID a former one: once
// a relay is set up, the first thing out is the AccountMigration from it
// to the new ID, signed as the protocol wants (the new identity's
// signature; the envelope by the old ID, with the same key), to the
// archive's contacts; once handed, it is not sent again.
func TestImportedArchiveAnnouncesTheMove(t *testing.T) {
	ctx := context.Background()
	p := openTestPod(t)
	importSample(t, p, archivetest.Sample{})
	me, err := p.db.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(me.Former, archivetest.Handle) || !me.IsMe(archivetest.Handle) {
		t.Fatalf("former IDs after the import: %v", me.Former)
	}
	h := fedHost{p}
	if err := h.SetRelay(ctx, "https://relay.test", "relay.test"); err != nil {
		t.Fatal(err)
	}
	out, err := h.Pending(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 || out[0].EntityType != "AccountMigration" {
		t.Fatalf("first pending item: %+v", out)
	}
	mig := out[0]
	e, err := entity.Parse(mig.Payload)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := e.(*entity.AccountMigration)
	if !ok || m.OldIdentity() != archivetest.Handle || m.NewIdentity() != "alice@relay.test" || mig.Sender != archivetest.Handle ||
		!mig.Public {
		t.Fatalf("migration: %+v (sender %q)", e, mig.Sender)
	}
	key, err := p.IdentityKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.VerifySignature(&key.PublicKey); err != nil {
		t.Fatalf("the migration's signature: %v", err)
	}
	var to []string
	for _, r := range mig.Recipients {
		to = append(to, r.Handle)
	}
	if !slices.Contains(to, archivetest.BobHandle) {
		t.Errorf("the migration goes to %v, want the archive's contacts (bob among them)", to)
	}
	if err := h.MarkHanded(ctx, []string{mig.Key}); err != nil {
		t.Fatal(err)
	}
	again, err := h.Pending(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range again {
		if o.EntityType == "AccountMigration" {
			t.Fatalf("the migration is pending again after it was handed: %+v", o)
		}
	}
}
