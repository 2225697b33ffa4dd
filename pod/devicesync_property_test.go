package pod

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"seedpod/pod/apiv1"
	"seedpod/pod/oplog"
	"seedpod/pod/store"
)

// syncSeeds is how many random schedules TestDevicesConverge runs:
// SEEDPOD_SYNC_SEEDS, default 200 (make test runs it so, without the race
// detector), 20 under the race detector; `make sync-long` sets thousands.
func syncSeeds(t *testing.T) int {
	if s := os.Getenv("SEEDPOD_SYNC_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SEEDPOD_SYNC_SEEDS=%q: want a positive number", s)
		}
		return n
	}
	if raceEnabled {
		return 20
	}
	return 200
}

// TestDevicesConverge: three real pods (own data directories, own libp2p
// hosts on loopback, clocks up to ±5 minutes apart), paired as one
// identity. Each seed is a random schedule of writes of every op kind on
// every device, partitions and merges; after the last merge all three
// hold every op written anywhere and the same state. Seeds run one after
// another on the same three pods, so later schedules start from a long
// history; a failure names its seed (SEEDPOD_SYNC_SEED=n runs one).
func TestDevicesConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("three pods with libp2p hosts")
	}
	ctx := context.Background()
	skews := []time.Duration{-5 * time.Minute, 0, 5 * time.Minute}
	var pods []*Pod
	for i, name := range []string{"a", "b", "c"} {
		skew := skews[i]
		p, err := Open(ctx, Config{DataDir: filepath.Join(t.TempDir(), name), KeyBits: 1024, Version: "test",
			Now:  func() time.Time { return time.Now().Add(skew) },
			Sync: &SyncConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DeviceName: name}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		pods = append(pods, p)
	}
	readyIdentity(t, pods[0], "Alice", "alice")
	for _, p := range pods[1:] {
		code, err := pods[0].OpenPairing(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Join(ctx, code.Code); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]peer.ID, len(pods))
	for i, p := range pods {
		ids[i] = p.sync.host.ID()
	}
	converge(t, pods, "after pairing")

	// The partition hook works: cut off, a write stays where it was made.
	for i, p := range pods {
		var others []peer.ID
		for j := range pods {
			if j != i {
				others = append(others, ids[j])
			}
		}
		if err := p.sync.setBlocked(ctx, others...); err != nil {
			t.Fatal(err)
		}
	}
	yes := apiv1.Bool(true)
	alone, err := pods[0].CreatePost(ctx, PostInput{Body: "while cut off", Public: &yes})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := pods[1].Post(ctx, alone.GUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a post written in a partition crossed it: %v", err)
	}
	for _, p := range pods {
		if err := p.sync.setBlocked(ctx); err != nil {
			t.Fatal(err)
		}
	}
	converge(t, pods, "after the first partition")

	first, n := 1, syncSeeds(t)
	if s := os.Getenv("SEEDPOD_SYNC_SEED"); s != "" {
		first, _ = strconv.Atoi(s)
		n = 1
	}
	members := []string{"00000000000000000000000000000a01", "00000000000000000000000000000a02", "00000000000000000000000000000a03"}
	for seed := first; seed < first+n; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		// Partitions: for each pair, cut or not.
		cut := map[[2]int]bool{}
		apply := func() {
			for i, p := range pods {
				var blocked []peer.ID
				for j := range pods {
					a, b := min(i, j), max(i, j)
					if i != j && cut[[2]int{a, b}] {
						blocked = append(blocked, ids[j])
					}
				}
				if err := p.sync.setBlocked(ctx, blocked...); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
			}
		}
		for step := range 24 {
			p := pods[r.IntN(len(pods))]
			var err error
			switch k := r.IntN(10); k {
			case 0:
				pair := [2]int{0, 1 + r.IntN(2)}
				if r.IntN(3) == 0 {
					pair = [2]int{1, 2}
				}
				cut[pair] = !cut[pair]
				apply()
			case 1:
				_, err = p.UpdateProfile(ctx, ProfileUpdate{Name: ptr(fmt.Sprintf("Alice %d.%d", seed, step))})
			case 2:
				_, err = p.CreateDraft(ctx, DraftContent{Body: fmt.Sprintf("draft %d.%d", seed, step), Public: true})
			case 3:
				ds, derr := p.Drafts(ctx, "", 50)
				if derr == nil && len(ds.Drafts) > 0 {
					d := ds.Drafts[r.IntN(len(ds.Drafts))]
					// Keeps what this device sees: concurrent versions merge
					// into one; a version written elsewhere meanwhile stays.
					_, err = p.UpdateDraft(ctx, d.ID, []byte(fmt.Sprintf(`{"body":"edit %d.%d"}`, seed, step)), []string{d.Revision})
					if errors.Is(err, ErrDraftStale) || errors.Is(err, ErrNotFound) {
						err = nil // a sync changed or removed it since it was read
					}
				}
			case 4:
				m := members[r.IntN(len(members))]
				err = p.log.Write(ctx, func(w *store.Writer) error {
					_, err := w.Append(oplog.AspectAdd{Aspect: "2", Member: m})
					return err
				})
			case 5:
				m := members[r.IntN(len(members))]
				err = p.log.Write(ctx, func(w *store.Writer) error {
					tags, err := store.SetTags(w.Ctx(), w, store.AspectSetName(2), m)
					if err != nil || len(tags) == 0 {
						return err
					}
					_, err = w.Append(oplog.AspectRemove{Aspect: "2", Member: m, Observed: oplog.Refs(tags)})
					return err
				})
			case 6:
				yes := apiv1.Bool(true)
				_, err = p.CreatePost(ctx, PostInput{Body: fmt.Sprintf("post %d.%d #seedpod", seed, step), Public: &yes})
			case 7:
				var guids []string
				guids, err = ownPostGUIDs(ctx, p)
				if err == nil && len(guids) > 0 {
					err = p.DeletePost(ctx, guids[r.IntN(len(guids))])
					if errorsIsNotFound(err) {
						err = nil
					}
				}
			case 8:
				tag := []string{"cats", "dogs", "tea"}[r.IntN(3)]
				if r.IntN(2) == 0 {
					err = p.FollowTag(ctx, tag)
				} else {
					err = p.UnfollowTag(ctx, tag)
				}
				if errorsIsConflictOrNotFound(err) {
					err = nil
				}
			case 9:
				err = p.ReadAllNotifications(ctx, p.cfg.Now())
			}
			if err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			if r.IntN(4) == 0 {
				time.Sleep(time.Duration(r.IntN(15)) * time.Millisecond)
			}
		}
		clear(cut)
		apply()
		converge(t, pods, fmt.Sprintf("seed %d", seed))
	}
	// What the schedules produced, so a change that stops exercising
	// concurrency shows.
	var versions, drafts int
	if err := pods[0].db.R.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT register) FROM st_reg_writes
		WHERE live = 1 AND deleted = 0 AND register LIKE 'draft/%'`).Scan(&versions, &drafts); err != nil {
		t.Fatal(err)
	}
	hs, _ := pods[0].db.Heads(ctx)
	var ops uint64
	for _, h := range hs {
		ops += h.Head.Seq
	}
	t.Logf("%d seeds: %d ops in %d logs; %d live drafts with %d versions", n, ops, len(hs), drafts, versions)
}

func ptr[T any](v T) *T { return &v }

func errorsIsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func errorsIsConflictOrNotFound(err error) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrGone)
}

func ownPostGUIDs(ctx context.Context, p *Pod) ([]string, error) {
	rows, err := p.db.R.QueryContext(ctx, "SELECT guid FROM posts WHERE own = 1 ORDER BY guid")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// converge waits until every pod holds every op written anywhere (equal
// heads), then compares the fold and the projections that matter most.
func converge(t *testing.T, pods []*Pod, what string) {
	t.Helper()
	ctx := context.Background()
	heads := func(p *Pod) string {
		hs, err := p.db.Heads(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, h := range hs {
			s += fmt.Sprintf("%s:%d:%x ", h.Log, h.Head.Seq, h.Head.Hash[:4])
		}
		return s
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		h0 := heads(pods[0])
		same := true
		for _, p := range pods[1:] {
			same = same && heads(p) == h0
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			for i, p := range pods {
				devs, _ := p.Devices(ctx)
				t.Logf("pod %d heads %s\n devices %+v", i, heads(p), devs)
			}
			t.Fatalf("%s: the three devices did not converge within 60 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	snap0, err := pods[0].db.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	posts0, _ := ownPostGUIDs(ctx, pods[0])
	for i, p := range pods[1:] {
		snap, err := p.db.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(snap0, snap) {
			t.Fatalf("%s: pod %d's state differs from pod 0's", what, i+1)
		}
		posts, _ := ownPostGUIDs(ctx, p)
		if !slices.Equal(posts0, posts) {
			t.Fatalf("%s: pod %d has posts %v, pod 0 %v", what, i+1, posts, posts0)
		}
	}
}
