package pod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"seedpod/pod/apiv1"
	"seedpod/pod/archive/archivetest"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// openBackup opens a backup file as a pod (a data directory of its own
// with the file as its database) and checks SQLite's integrity.
func openBackup(t *testing.T, file string) *Pod {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, DatabaseName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Open(context.Background(), Config{DataDir: dir, KeyBits: 1024})
	if err != nil {
		t.Fatalf("the backup does not open as a pod: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	var ok string
	if err := p.DB().R.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q %v", ok, err)
	}
	return p
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	p := openTestPod(t)
	importSample(t, p, archivetest.Sample{ExtraPosts: 20})
	out := filepath.Join(t.TempDir(), "backups", "pod-backup.db")
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		t.Fatal(err)
	}
	var phases []Progress
	rep, err := p.Backup(ctx, out, func(pr Progress) { phases = append(phases, pr) })
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil || st.Size() != rep.Size || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file %v %v (report %+v)", st, err, rep)
	}
	if len(phases) != 2 || phases[1] != (Progress{Phase: PhaseSnapshot, Done: 1, Total: 1}) {
		t.Errorf("progress %+v", phases)
	}
	left, _ := os.ReadDir(filepath.Dir(out))
	if len(left) != 1 {
		t.Errorf("files beside the backup: %v", left)
	}
	b := openBackup(t, out)
	if sp, sb := podState(t, p), podState(t, b); sp != sb {
		t.Fatalf("the backup holds another state:\n%s\n----\n%s", sp, sb)
	}
	if k, err := b.IdentityKey(ctx); err != nil || !k.PublicKey.Equal(&archivetest.Key(t).PublicKey) {
		t.Fatalf("identity key in the backup: %v", err)
	}
	// The restored copy is the same device in a new epoch of its log:
	// its writes never collide with the original's.
	orig, restored := p.Log().ID(), b.Log().ID()
	if !orig.Device.Equal(restored.Device) || orig.Epoch == restored.Epoch || restored.Epoch == 0 {
		t.Fatalf("log of the restored copy %s, original %s: want the same device in a new epoch", restored, orig)
	}
	if _, err := b.CreateAspect(ctx, "After the restore"); err != nil {
		t.Fatal(err)
	}
	if heads, err := b.DB().Heads(ctx); err != nil {
		t.Fatal(err)
	} else if h := headOf(heads, restored); h.Seq == 0 {
		t.Fatalf("first write of the restored copy: head %+v, want the write in the new epoch", h)
	}
	if p.Log().ID().Epoch != orig.Epoch {
		t.Fatal("the original's epoch changed")
	}
	// A second backup replaces the first.
	if _, err := p.Backup(ctx, out, nil); err != nil {
		t.Fatal(err)
	}
	// The pod's own database is never the target.
	if _, err := p.Backup(ctx, p.DB().Path(), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("backup onto the database: %v", err)
	}
	if _, err := p.Backup(ctx, filepath.Join(t.TempDir(), "missing-dir", "x.db"), nil); err == nil {
		t.Fatal("backup into a missing directory")
	}
}

// Backups taken while posts are written are whole: each opens as a pod
// and holds a prefix of the writes, and the reader pool keeps working
// (the connection that wrote the snapshot is not reused).
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	p := openTestPod(t)
	if _, err := p.CreateIdentity(ctx, "Alice", "alice"); err != nil {
		t.Fatal(err)
	}
	pub := apiv1.Bool(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	written := 0
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := p.CreatePost(ctx, PostInput{Body: fmt.Sprintf("post %d", written), Public: &pub}); err != nil {
				t.Error(err)
				return
			}
			written++
		}
	}()
	dir := t.TempDir()
	var counts []int
	for i := range 4 {
		out := filepath.Join(dir, fmt.Sprintf("b%d.db", i))
		if _, err := p.Backup(ctx, out, nil); err != nil {
			t.Fatal(err)
		}
		b := openBackup(t, out)
		var n, ops int
		b.DB().R.QueryRow("SELECT count(*) FROM posts").Scan(&n)
		b.DB().R.QueryRow("SELECT count(*) FROM ops WHERE kind = 'publish'").Scan(&ops)
		counts = append(counts, n)
		b.Close()
		// Every post of the snapshot has its op, and the posts are a
		// prefix: post 0..n-1.
		if n > 0 {
			var last string
			b2 := openBackup(t, out)
			b2.DB().R.QueryRow("SELECT text FROM posts ORDER BY id DESC LIMIT 1").Scan(&last)
			if last != fmt.Sprintf("post %d", n-1) {
				t.Errorf("backup %d: %d posts, the newest is %q", i, n, last)
			}
		}
	}
	close(stop)
	wg.Wait()
	if written == 0 {
		t.Fatal("nothing written during the backups")
	}
	for i := 1; i < len(counts); i++ {
		if counts[i] < counts[i-1] {
			t.Errorf("backups went back in time: %v", counts)
		}
	}
	// The reader pool is still query_only.
	if _, err := p.DB().R.ExecContext(ctx, "CREATE TABLE x (y)"); err == nil {
		t.Fatal("a reader connection can write after a backup")
	}
	t.Logf("posts in the backups: %v (written: %d)", counts, written)
}

func headOf(heads []store.LogHead, id oplog.LogID) oplog.Head {
	for _, h := range heads {
		if h.Log.Equal(id) {
			return h.Head
		}
	}
	return oplog.Head{}
}
