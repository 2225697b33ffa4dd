package session

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestPropertyConverge: three replicas with clocks up to ±5 min apart
// write random ops of every kind while random pairwise sessions — some
// cut at a random byte, some two at once through the same replica — move
// them; after a final round of sessions all three hold the same heads,
// the same ops (every op written) and the same fold and projections.
//
// SEEDPOD_SYNC_SEEDS sets the number of seeds (20 by default, 3 with
// -short or -race); a failure names its seed.
func TestPropertyConverge(t *testing.T) {
	seeds := 20
	if testing.Short() || raceEnabled {
		seeds = 3
	}
	if n, err := strconv.Atoi(os.Getenv("SEEDPOD_SYNC_SEEDS")); err == nil && n > 0 {
		seeds = n
	}
	for seed := range uint64(seeds) {
		if !t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { convergeSeed(t, seed) }) {
			break // one failing seed is enough to read
		}
	}
}

func convergeSeed(t *testing.T, seed uint64) {
	g := newGen(seed)
	rnd := g.r
	var rs []*replica
	for i := range 3 {
		skew := time.Duration(rnd.IntN(600)-300) * time.Second
		rs = append(rs, openReplicaSkew(t, fmt.Sprintf("r%d", i), skew))
	}
	written := 0
	session := func(a, b *replica, cut int64, batch int) {
		ra, rb := pair(t, a, b, pairOpts{cutA: cut, batchOps: batch, timeout: 20 * time.Second})
		if cut == 0 && (!orderly(ra.err) || !orderly(rb.err)) {
			t.Errorf("seed %d: session %s–%s ended with %v / %v", seed, a.name, b.name, ra.err, rb.err)
		}
	}
	for range 14 {
		switch rnd.IntN(5) {
		case 0, 1:
			r := rs[rnd.IntN(3)]
			for range 1 + rnd.IntN(3) {
				n := 1 + rnd.IntN(8)
				r.write(g, n)
				written += n
			}
		case 2:
			// Two sessions at once through the middle replica, while it
			// writes: live forwarding and concurrent applies.
			m := rnd.IntN(3)
			a, b, c := rs[(m+1)%3], rs[m], rs[(m+2)%3]
			batch := 1 + rnd.IntN(20)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); session(a, b, 0, batch) }()
			go func() { defer wg.Done(); session(b, c, 0, batch) }()
			n := 1 + rnd.IntN(5)
			b.write(g, n)
			written += n
			wg.Wait()
		default:
			i := rnd.IntN(3)
			j := (i + 1 + rnd.IntN(2)) % 3
			var cut int64
			if rnd.IntN(3) == 0 {
				cut = int64(50 + rnd.IntN(30_000))
			}
			session(rs[i], rs[j], cut, 1+rnd.IntN(50))
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	// Heal.
	session(rs[0], rs[1], 0, 0)
	session(rs[1], rs[2], 0, 0)
	session(rs[0], rs[1], 0, 0)
	requireConverged(t, rs...)
	if n := rs[0].opCount(); n != written {
		t.Fatalf("seed %d: %d ops stored, %d written", seed, n, written)
	}
}
