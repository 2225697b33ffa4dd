package oplog

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"
)

func testKey(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	k := testKey(t, 1)
	ops := []*Op{
		{Log: LogID{Device: k.Public().(ed25519.PublicKey), Epoch: 7}, Seq: 1, Clock: HLC{Wall: 1, Logical: 0}, Schema: 1, Kind: 1, Body: []byte(`{}`)},
		{Log: LogID{Device: k.Public().(ed25519.PublicKey), Epoch: 1<<64 - 1}, Seq: 99, Prev: [32]byte{1, 2, 3}, Clock: HLC{Wall: 1<<63 + 5, Logical: 1<<32 - 1}, Kind: 65535},
		{Log: LogID{Device: k.Public().(ed25519.PublicKey)}, Seq: 2, Prev: [32]byte{9}, Body: bytes.Repeat([]byte("x"), MaxBody)},
	}
	for i, op := range ops {
		b, err := op.Encode()
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("op %d: decode: %v", i, err)
		}
		again, _ := back.Encode()
		if !bytes.Equal(b, again) {
			t.Fatalf("op %d: re-encoding differs", i)
		}
		if back.ID().Compare(op.ID()) != 0 || back.ID().Key() != op.ID().Key() || back.Prev != op.Prev ||
			back.Clock != op.Clock || back.Kind != op.Kind || back.Schema != op.Schema || !bytes.Equal(back.Body, op.Body) {
			t.Fatalf("op %d: fields differ: %+v vs %+v", i, back, op)
		}
	}
}

func TestDecodeRefusals(t *testing.T) {
	k := testKey(t, 1)
	good, _ := (&Op{Log: LogID{Device: k.Public().(ed25519.PublicKey), Epoch: 1}, Seq: 2, Prev: [32]byte{1}, Body: []byte("b")}).Encode()
	first, _ := (&Op{Log: LogID{Device: k.Public().(ed25519.PublicKey), Epoch: 1}, Seq: 1}).Encode()
	mutate := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string][]byte{
		"empty":              nil,
		"wrong version":      mutate(func(b []byte) []byte { b[0] = 9; return b }),
		"zero device length": mutate(func(b []byte) []byte { b[1] = 0; return b }),
		"huge device length": mutate(func(b []byte) []byte { b[1] = 200; return b }),
		"truncated":          good[:len(good)-1],
		"trailing byte":      append(bytes.Clone(good), 0),
		"body length lies":   mutate(func(b []byte) []byte { b[len(b)-2] = 0xff; return b }),
		"seq zero": mutate(func(b []byte) []byte {
			off := 2 + 32 + 8
			copy(b[off:off+8], make([]byte, 8))
			return b
		}),
		"first op with a predecessor": func() []byte {
			b := bytes.Clone(first)
			b[2+32+8+8] = 1
			return b
		}(),
	}
	for name, b := range cases {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := (&Op{Log: LogID{Device: k.Public().(ed25519.PublicKey)}, Seq: 1, Body: make([]byte, MaxBody+1)}).Encode(); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversized body encoded: %v", err)
	}
}

func TestSignOpenChain(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	k := testKey(t, 1)
	l := NewLog(k, 42, func() time.Time { return now })
	var head Head
	var signed []Signed
	for i := range 5 {
		op, s, err := l.Append(Kind(i+1), 1, []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Open(s)
		if err != nil {
			t.Fatalf("open op %d: %v", i, err)
		}
		if head, err = Follow(head, got, s); err != nil {
			t.Fatalf("follow op %d: %v", i, err)
		}
		if op.Seq != uint64(i+1) || got.Clock.Compare(op.Clock) != 0 {
			t.Fatalf("op %d: %+v", i, got)
		}
		signed = append(signed, s)
	}
	if l.Head() != head {
		t.Fatal("the log's head and the follower's differ")
	}
	// The clock did not move: the logical counter orders the ops.
	prev := HLC{}
	for _, s := range signed {
		op, _ := Open(s)
		if op.Clock.Compare(prev) <= 0 {
			t.Fatalf("clock went back: %v after %v", op.Clock, prev)
		}
		prev = op.Clock
	}

	// A flipped bit anywhere breaks the signature.
	bad := Signed{Bytes: bytes.Clone(signed[2].Bytes), Sig: signed[2].Sig}
	bad.Bytes[len(bad.Bytes)-1] ^= 1
	if _, err := Open(bad); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered op: %v", err)
	}
	// Another device's key cannot sign into this log.
	op, _ := Open(signed[0])
	if _, err := Sign(op, testKey(t, 2)); err == nil {
		t.Fatal("signed with a key that is not the log's device")
	}
	// Out of order, a gap, a duplicate and a broken chain are refused.
	ops := make([]*Op, len(signed))
	for i, s := range signed {
		ops[i], _ = Open(s)
	}
	if _, err := Follow(Head{}, ops[1], signed[1]); !errors.Is(err, ErrChain) {
		t.Errorf("gap: %v", err)
	}
	h1, _ := Follow(Head{}, ops[0], signed[0])
	if _, err := Follow(h1, ops[0], signed[0]); !errors.Is(err, ErrChain) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := Follow(Head{Seq: 1, Hash: [32]byte{7}}, ops[1], signed[1]); !errors.Is(err, ErrChain) {
		t.Errorf("broken chain: %v", err)
	}
}

func TestClock(t *testing.T) {
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var c Clock
	a := c.Tick(base)
	b := c.Tick(base) // same millisecond
	if b.Compare(a) <= 0 || b.Wall != a.Wall || b.Logical != a.Logical+1 {
		t.Fatalf("tick within a millisecond: %v then %v", a, b)
	}
	d := c.Tick(base.Add(-time.Hour)) // the wall clock went back
	if d.Compare(b) <= 0 {
		t.Fatalf("tick after the clock went back: %v after %v", d, b)
	}
	// A remote reading five minutes ahead is observed and reported.
	remote := HLC{Wall: uint64(base.Add(5 * time.Minute).UnixMilli()), Logical: 3}
	if ahead := c.Observe(remote, base); ahead != 5*time.Minute {
		t.Fatalf("ahead = %v", ahead)
	}
	if e := c.Tick(base); e.Compare(remote) <= 0 {
		t.Fatalf("tick after observing %v gave %v", remote, e)
	}
	// Observing an older reading changes nothing about order.
	before := c.Last()
	c.Observe(HLC{Wall: 1}, base)
	if c.Last().Compare(before) <= 0 {
		t.Fatal("observe went back")
	}
	if got := (HLC{Wall: 1700000000000}).Time(); got.Year() != 2023 {
		t.Fatalf("Time() = %v", got)
	}
}

// FuzzDecode: never panics, bounded work (every length is capped before
// allocation), and an accepted op re-encodes to exactly the input (one
// encoding per op).
func FuzzDecode(f *testing.F) {
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	l := NewLog(k, 1, func() time.Time { return time.Unix(1700000000, 0) })
	for i := range 3 {
		_, s, _ := l.Append(Kind(i), 1, []byte(`{"k":"v"}`))
		f.Add(s.Bytes)
	}
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := Decode(b)
		if err != nil {
			return
		}
		again, err := op.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted op does not re-encode to its input: %v", err)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	l := NewLog(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)), 1, nil)
	body := []byte(`{"key":"profile/first_name","value":"Alice"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := l.Append(1, 1, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenFollow(b *testing.B) {
	l := NewLog(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)), 1, nil)
	_, s, _ := l.Append(1, 1, []byte(`{"key":"profile/first_name","value":"Alice"}`))
	b.ReportAllocs()
	for b.Loop() {
		op, err := Open(s)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Follow(Head{}, op, s); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeBody: op bodies arrive from other devices. Invariants: never
// panics; an accepted body re-encodes to a body that decodes to the same
// value (and the same bytes again).
func FuzzDecodeBody(f *testing.F) {
	f.Add(uint16(KindSetField), []byte(`{"key":"profile/first_name","value":"Alice"}`))
	f.Add(uint16(KindDraftWrite), []byte(`{"register":"draft/1","value":"hi","deleted":false,"pred":[]}`))
	f.Add(uint16(KindPublish), []byte(`{"guid":"0123456789abcdef0123","kind":"post","created_at":1,"body":{},"recipients":[]}`))
	f.Add(uint16(KindRetract), []byte(`{"guid":"0123456789abcdef0123"}`))
	f.Add(uint16(KindReadUpTo), []byte(`{"stream":"notifications","watermark":5}`))
	f.Fuzz(func(t *testing.T, kind uint16, b []byte) {
		v, err := DecodeBody(Kind(kind), b)
		if err != nil {
			return
		}
		body, ok := v.(Body)
		if !ok {
			t.Fatalf("DecodeBody returned %T, not a Body", v)
		}
		enc := body.Encode()
		v2, err := DecodeBody(Kind(kind), enc)
		if err != nil {
			t.Fatalf("re-encoded body %s does not decode: %v", enc, err)
		}
		if enc2 := v2.(Body).Encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %s then %s", enc, enc2)
		}
	})
}
