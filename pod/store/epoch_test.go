package store

import (
	"context"
	"path/filepath"
	"testing"

	"seedpod/pod/oplog"
)

// A new epoch (a device restored from an older copy of its database):
// the device key stays, the log starts again at seq 1 in a new epoch, the
// old epoch's ops and head stay as they were, and the database remembers
// the new epoch. A database marked as a restored copy starts one when it
// is opened.
func TestNewEpoch(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pod.db")
	db := openTest(t, path)
	l, err := db.OpenLog(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := func(l *Log, v string) {
		t.Helper()
		if err := l.Write(ctx, func(w *Writer) error {
			_, err := w.Append(oplog.SetField{Key: "profile/first_name", Value: `"` + v + `"`})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	set(l, "one")
	set(l, "two")
	old := l.ID()
	id, err := l.NewEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Device.Equal(old.Device) || id.Epoch == old.Epoch || id.Epoch == 0 || !l.ID().Equal(id) {
		t.Fatalf("new epoch %s from %s (log says %s)", id, old, l.ID())
	}
	set(l, "three")
	heads := map[string]uint64{}
	hs, err := db.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		heads[h.Log.String()] = h.Head.Seq
	}
	if heads[old.String()] != 2 || heads[id.String()] != 1 || len(heads) != 2 {
		t.Fatalf("heads %v", heads)
	}
	var v string
	if err := db.R.QueryRow("SELECT value FROM st_fields WHERE key = 'profile/first_name'").Scan(&v); err != nil || v != `"three"` {
		t.Fatalf("field after the new epoch's write: %q %v", v, err)
	}
	// Reopened: the same (new) epoch.
	l2, err := db.OpenLog(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !l2.ID().Equal(id) || l2.log.Load().Head().Seq != 1 {
		t.Fatalf("reopened: %s head %d, want %s at 1", l2.ID(), l2.log.Load().Head().Seq, id)
	}
	// Marked as a restored copy: the next open starts another epoch.
	if _, err := db.W.Exec(MarkRestored); err != nil {
		t.Fatal(err)
	}
	l3, err := db.OpenLog(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := l3.ID(); !got.Device.Equal(id.Device) || got.Epoch == id.Epoch || got.Epoch == old.Epoch || got.Epoch == 0 {
		t.Fatalf("opened after MarkRestored: %s", got)
	}
}
