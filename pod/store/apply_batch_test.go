package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"math"
	"slices"
	"testing"

	"seedpod/pod/oplog"
)

// TestApplyFieldOrder: the one-statement upsert in applyField and its Go
// fallback together keep the write with the greatest oplog.Stamp, in
// every arrival order, including the cases SQL cannot order (ties on
// wall, logical and device; walls past int64).
func TestApplyFieldOrder(t *testing.T) {
	devA, devB := []byte{0x01, 0x02}, []byte{0x01, 0x02, 0x00} // B > A: same prefix, longer
	st := func(wall uint64, logical uint32, dev []byte, epoch, seq uint64) oplog.Stamp {
		return oplog.Stamp{Clock: oplog.HLC{Wall: wall, Logical: logical}, Log: oplog.LogID{Device: dev, Epoch: epoch}, Seq: seq}
	}
	tests := []struct {
		name   string
		stamps []oplog.Stamp
	}{
		{"later wall", []oplog.Stamp{st(10, 0, devA, 1, 1), st(11, 0, devA, 1, 2)}},
		{"logical", []oplog.Stamp{st(10, 1, devA, 1, 1), st(10, 2, devA, 1, 2)}},
		{"device by bytes then length", []oplog.Stamp{st(10, 0, devA, 1, 1), st(10, 0, devB, 1, 1)}},
		{"tie to epoch", []oplog.Stamp{st(10, 0, devA, 1, 5), st(10, 0, devA, 2, 1)}},
		{"epoch past int64", []oplog.Stamp{st(10, 0, devA, 1, 5), st(10, 0, devA, math.MaxUint64, 1)}},
		{"tie to seq", []oplog.Stamp{st(10, 0, devA, 7, 1), st(10, 0, devA, 7, 2)}},
		{"wall past int64", []oplog.Stamp{st(math.MaxInt64, 0, devB, 1, 1), st(math.MaxInt64+1, 0, devA, 1, 1)}},
		{"two walls past int64", []oplog.Stamp{st(math.MaxInt64+1, 0, devA, 1, 1), st(math.MaxUint64, 0, devA, 1, 2)}},
		{"three", []oplog.Stamp{st(5, 0, devB, 1, 1), st(5, 0, devA, 9, 9), st(6, 0, devA, 1, 1)}},
	}
	perms := func(n int) [][]int {
		var out [][]int
		var rec func(p []int, used []bool)
		rec = func(p []int, used []bool) {
			if len(p) == n {
				out = append(out, append([]int(nil), p...))
				return
			}
			for i := range n {
				if !used[i] {
					used[i] = true
					rec(append(p, i), used)
					used[i] = false
				}
			}
		}
		rec(nil, make([]bool, n))
		return out
	}
	ctx := context.Background()
	for _, tt := range tests {
		win := 0
		for i, s := range tt.stamps {
			if s.Compare(tt.stamps[win]) > 0 {
				win = i
			}
		}
		for _, order := range perms(len(tt.stamps)) {
			db, _ := openTestLog(t)
			sqlTx, err := db.W.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			tx := newTx(ctx, sqlTx)
			for _, i := range order {
				if err := tx.applyField(tt.stamps[i], oplog.SetField{Key: "k", Value: string(rune('a' + i))}); err != nil {
					t.Fatalf("%s %v: %v", tt.name, order, err)
				}
			}
			var got string
			if err := tx.QueryRowContext(ctx, "SELECT value FROM st_fields WHERE key = 'k'").Scan(&got); err != nil {
				t.Fatal(err)
			}
			sqlTx.Rollback()
			if want := string(rune('a' + win)); got != want {
				t.Errorf("%s, order %v: value %q, want %q (the greatest stamp's)", tt.name, order, got, want)
			}
		}
	}
}

// TestApplyStoresBatchesAndResends: Apply stores ops opInsertRows to a
// statement; whatever the batch's shape (runs longer than a statement,
// two logs interleaved, resends of stored ops and of ops earlier in the
// same batch), every op is stored once, byte for byte, and counted right.
func TestApplyStoresBatchesAndResends(t *testing.T) {
	ctx := context.Background()
	mk := func(seed byte, n int) []oplog.Signed {
		k := make([]byte, 32)
		k[0] = seed
		l := oplog.NewLog(ed25519.NewKeyFromSeed(k), uint64(seed)+1, nil)
		out := make([]oplog.Signed, n)
		for i := range out {
			_, s, err := l.Append(oplog.KindSetField, oplog.CurrentSchema, oplog.SetField{Key: fmt.Sprintf("k%d", i%7), Value: fmt.Sprint(seed, i)}.Encode())
			if err != nil {
				t.Fatal(err)
			}
			out[i] = s
		}
		return out
	}
	a, b := mk(1, 300), mk(2, 300)
	interleave := func(x, y []oplog.Signed) []oplog.Signed {
		var out []oplog.Signed
		for i := range max(len(x), len(y)) {
			if i < len(x) {
				out = append(out, x[i])
			}
			if i < len(y) {
				out = append(out, y[i])
			}
		}
		return out
	}
	cat := func(xs ...[]oplog.Signed) []oplog.Signed { return slices.Concat(xs...) }
	steps := []struct {
		name      string
		batch     []oplog.Signed
		applied   int
		duplicate int
	}{
		{"two statements and two rows", a[:130], 130, 0},
		{"resends then new", a[100:200], 70, 30},
		{"an op twice in its batch", cat(a[200:201], a[200:201], a[201:202]), 2, 1},
		{"two logs interleaved", interleave(a[202:300], b[:150]), 248, 0},
		{"a run resent inside its batch", cat(b[150:220], b[150:220], b[220:300]), 150, 70},
		{"all again", cat(a, b), 0, 600},
	}
	db, l := openTestLog(t)
	for _, st := range steps {
		res, err := l.Apply(ctx, st.batch)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if res.Applied != st.applied || res.Duplicates != st.duplicate {
			t.Fatalf("%s: %+v, want %d applied and %d duplicates", st.name, res, st.applied, st.duplicate)
		}
	}
	for _, want := range [][]oplog.Signed{a, b} {
		first, _ := oplog.Open(want[0])
		got, err := db.Ops(ctx, first.Log, 1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("log %s: %d ops stored, want %d", first.Log, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i].Bytes, want[i].Bytes) || !bytes.Equal(got[i].Sig, want[i].Sig) {
				t.Fatalf("log %s: op %d differs from what was sent", first.Log, i+1)
			}
		}
	}
	var n int
	if err := db.R.QueryRowContext(ctx, "SELECT count(*) FROM ops").Scan(&n); err != nil || n != 600 {
		t.Fatalf("%d ops stored (%v), want 600", n, err)
	}
}
