package wire

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"seedpod/pod/oplog"
)

func testKey(b byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = b
	return ed25519.NewKeyFromSeed(seed)
}

func testLog(b byte, epoch uint64) oplog.LogID {
	return oplog.LogID{Device: testKey(b).Public().(ed25519.PublicKey), Epoch: epoch}
}

// testOps are n real signed ops of one log.
func testOps(t testing.TB, n int) []oplog.Signed {
	t.Helper()
	l := oplog.NewLog(testKey(9), 77, func() time.Time { return time.Unix(1_800_000_000, 0) })
	var out []oplog.Signed
	for i := range n {
		body, err := oplog.EncodeBody(oplog.SetField{Key: "k", Value: strings.Repeat("v", i)})
		if err != nil {
			t.Fatal(err)
		}
		_, s, err := l.Append(oplog.KindSetField, oplog.CurrentSchema, body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func hash(b byte) [32]byte {
	var h [32]byte
	for i := range h {
		h[i] = b + byte(i)
	}
	return h
}

func sampleMsgs(t testing.TB) []Msg {
	heads := []LogHead{
		{Log: testLog(1, 0), Head: oplog.Head{}},
		{Log: testLog(2, 1<<63+5), Head: oplog.Head{Seq: 300, Hash: hash(3)}},
	}
	return []Msg{
		&Hello{ProtoMin: 1, ProtoMax: 1, Log: testLog(1, 42)},
		&Hello{ProtoMin: 1, ProtoMax: 3, Log: testLog(1, 42), Heads: heads},
		&Batch{Ops: testOps(t, 1)},
		&Batch{Ops: testOps(t, 20)},
		&Ack{},
		&Ack{Heads: heads},
		&Want{Ranges: []Range{{Log: testLog(4, 9), From: 1}, {Log: testLog(5, 0), From: 1 << 40}}},
		&Fork{Log: testLog(6, 6), Seq: 17, Mine: hash(1), Yours: hash(2)},
		&Bye{},
		&Bye{Code: ByeUnpaired, Text: "device 1234 is not paired — élan"},
		&Bye{Code: 200, Text: strings.Repeat("x", MaxByeText)},
	}
}

func TestRoundTrip(t *testing.T) {
	var stream bytes.Buffer
	msgs := sampleMsgs(t)
	for _, m := range msgs {
		if _, err := WriteFrame(&stream, m); err != nil {
			t.Fatalf("WriteFrame(%s): %v", m.Type(), err)
		}
	}
	r := bufio.NewReader(&stream)
	for i, want := range msgs {
		got, err := ReadFrame(r, 0)
		if err != nil {
			t.Fatalf("frame %d (%s): %v", i, want.Type(), err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("frame %d: got %#v\nwant %#v", i, got, want)
		}
		b1, _ := Marshal(want)
		b2, err := Marshal(got)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Errorf("frame %d re-encodes differently (%v)", i, err)
		}
	}
	if _, err := ReadFrame(r, 0); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

// A full batch (the most ops, the largest body) fits a frame, and
// BatchBodySize says exactly what the body weighs.
func TestBatchSizes(t *testing.T) {
	ops := testOps(t, MaxBatchOps)
	b, err := Marshal(&Batch{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + BatchBodySize(ops); len(b) != uvarintLen(uint64(want))+want {
		t.Errorf("frame of %d bytes, BatchBodySize says body %d", len(b), want-1)
	}
	// One op of the largest size, plus small ones up to the body cap.
	big := oplog.Signed{Bytes: bytes.Repeat([]byte{1}, MaxOpBytes), Sig: make([]byte, SigSize)}
	if OpSize(big) > MaxBatchBody {
		t.Fatalf("the largest op (%d) does not fit a batch (%d)", OpSize(big), MaxBatchBody)
	}
	full := []oplog.Signed{big, big, big}
	for BatchBodySize(full)+OpSize(ops[0]) <= MaxBatchBody && len(full) < MaxBatchOps {
		full = append(full, ops[0])
	}
	fb, err := Marshal(&Batch{Ops: full})
	if err != nil {
		t.Fatalf("a batch of %d body bytes: %v", BatchBodySize(full), err)
	}
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(fb)), 0); err != nil {
		t.Fatalf("read a full batch: %v", err)
	}
}

func frame(typ Type, body []byte) []byte {
	b := binary.AppendUvarint(nil, uint64(1+len(body)))
	b = append(b, byte(typ))
	return append(b, body...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
func uv(v uint64) []byte         { return binary.AppendUvarint(nil, v) }

func TestReadFrameRefuses(t *testing.T) {
	dev := []byte(testLog(1, 0).Device)
	ops := testOps(t, 1)
	opBody := cat(uv(1), uv(uint64(len(ops[0].Bytes))), ops[0].Bytes, ops[0].Sig)
	h := hash(1)
	for _, c := range []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"empty frame", uv(0), 0, ErrMalformed},
		{"over the cap", uv(MaxFrame + 1), 0, ErrTooLarge},
		{"over a given max", uv(101), 100, ErrTooLarge},
		{"huge length", uv(1 << 62), 0, ErrTooLarge},
		{"length overflows", bytes.Repeat([]byte{0xff}, 11), 0, ErrMalformed},
		{"non-minimal length", []byte{0x81, 0x00, 6}, 0, ErrMalformed},
		{"truncated length", []byte{0x81}, 0, io.ErrUnexpectedEOF},
		{"truncated frame", []byte{10, 6, 0}, 0, io.ErrUnexpectedEOF},
		{"unknown type 0", frame(0, nil), 0, ErrMalformed},
		{"unknown type 7", frame(7, nil), 0, ErrMalformed},
		{"trailing bytes", frame(TypeBye, []byte{0, 0, 9}), 0, ErrMalformed},
		{"bye text over cap", frame(TypeBye, cat([]byte{0}, uv(MaxByeText+1), bytes.Repeat([]byte("x"), MaxByeText+1))), 0, ErrMalformed},
		{"bye text not UTF-8", frame(TypeBye, []byte{0, 2, 0xff, 0xfe}), 0, ErrMalformed},
		{"bye truncated", frame(TypeBye, []byte{0, 5, 'a'}), 0, ErrMalformed},
		{"bye empty body", frame(TypeBye, nil), 0, ErrMalformed},
		{"hello short device", frame(TypeHello, cat(uv(1), uv(1), dev[:31])), 0, ErrMalformed},
		{"hello proto range", frame(TypeHello, cat(uv(2), uv(1), dev, uv(0), uv(0))), 0, ErrMalformed},
		{"hello non-minimal epoch", frame(TypeHello, cat(uv(1), uv(1), dev, []byte{0x80, 0x00}, uv(0))), 0, ErrMalformed},
		{"hello too many heads", frame(TypeHello, cat(uv(1), uv(1), dev, uv(0), uv(MaxHeads+1))), 0, ErrMalformed},
		{"hello heads the body cannot hold", frame(TypeHello, cat(uv(1), uv(1), dev, uv(0), uv(2), dev, uv(0), uv(0), h[:])), 0, ErrMalformed},
		{"hello head truncated", frame(TypeHello, cat(uv(1), uv(1), dev, uv(0), uv(1), dev, uv(0), uv(0), h[:31])), 0, ErrMalformed},
		{"batch of no ops", frame(TypeBatch, uv(0)), 0, ErrMalformed},
		{"batch over 1000 ops", frame(TypeBatch, uv(MaxBatchOps+1)), 0, ErrMalformed},
		{"batch op of 0 bytes", frame(TypeBatch, cat(uv(1), uv(0), make([]byte, 64))), 0, ErrMalformed},
		{"batch op over the cap", frame(TypeBatch, cat(uv(1), uv(MaxOpBytes+1), make([]byte, 64))), 0, ErrMalformed},
		{"batch op truncated", frame(TypeBatch, cat(uv(1), uv(200), make([]byte, 100))), 0, ErrMalformed},
		{"batch sig truncated", frame(TypeBatch, opBody[:len(opBody)-1]), 0, ErrMalformed},
		{"batch trailing", frame(TypeBatch, cat(opBody, []byte{0})), 0, ErrMalformed},
		{"ack heads over cap", frame(TypeAck, uv(MaxHeads+1)), 0, ErrMalformed},
		{"ack empty body", frame(TypeAck, nil), 0, ErrMalformed},
		{"want of nothing", frame(TypeWant, uv(0)), 0, ErrMalformed},
		{"want from 0", frame(TypeWant, cat(uv(1), dev, uv(0), uv(0))), 0, ErrMalformed},
		{"want too many", frame(TypeWant, uv(MaxWant+1)), 0, ErrMalformed},
		{"fork at 0", frame(TypeFork, cat(dev, uv(0), uv(0), h[:], h[:])), 0, ErrMalformed},
		{"fork short hash", frame(TypeFork, cat(dev, uv(0), uv(1), h[:], h[:31])), 0, ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := ReadFrame(bufio.NewReader(bytes.NewReader(c.in)), c.max)
			if !errors.Is(err, c.want) {
				t.Fatalf("ReadFrame = %v, %v; want an error wrapping %v", m, err, c.want)
			}
		})
	}
}

// An oversized length is refused before the frame is read: the reader has
// taken only the length's bytes.
func TestOversizedRefusedBeforeReading(t *testing.T) {
	in := cat(uv(MaxFrame+1), bytes.Repeat([]byte{6}, 100))
	br := bytes.NewReader(in)
	r := bufio.NewReaderSize(br, 16)
	if _, err := ReadFrame(r, 0); !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
	if consumed := len(in) - br.Len() - r.Buffered(); consumed != len(uv(MaxFrame+1)) {
		t.Errorf("consumed %d bytes, want only the length", consumed)
	}
	allocs := testing.AllocsPerRun(100, func() {
		r := bufio.NewReader(bytes.NewReader(uv(1 << 40)))
		ReadFrame(r, 0)
	})
	if allocs > 10 {
		t.Errorf("%v allocations refusing a 1 TiB frame", allocs)
	}
}

func TestMarshalRefuses(t *testing.T) {
	short := oplog.LogID{Device: make([]byte, 31)}
	ops := testOps(t, 1)
	for _, c := range []struct {
		name string
		m    Msg
	}{
		{"nil", nil},
		{"hello short device", &Hello{ProtoMin: 1, ProtoMax: 1, Log: short}},
		{"hello proto range", &Hello{ProtoMin: 2, ProtoMax: 1, Log: testLog(1, 0)}},
		{"hello too many heads", &Hello{ProtoMin: 1, ProtoMax: 1, Log: testLog(1, 0), Heads: make([]LogHead, MaxHeads+1)}},
		{"empty batch", &Batch{}},
		{"batch too many ops", &Batch{Ops: make([]oplog.Signed, MaxBatchOps+1)}},
		{"batch bad sig", &Batch{Ops: []oplog.Signed{{Bytes: ops[0].Bytes, Sig: ops[0].Sig[:10]}}}},
		{"batch huge op", &Batch{Ops: []oplog.Signed{{Bytes: make([]byte, MaxOpBytes+1), Sig: ops[0].Sig}}}},
		{"batch over 4 MiB", &Batch{Ops: []oplog.Signed{
			{Bytes: make([]byte, MaxOpBytes), Sig: ops[0].Sig}, {Bytes: make([]byte, MaxOpBytes), Sig: ops[0].Sig},
			{Bytes: make([]byte, MaxOpBytes), Sig: ops[0].Sig}, {Bytes: make([]byte, MaxOpBytes), Sig: ops[0].Sig}}}},
		{"ack short device", &Ack{Heads: []LogHead{{Log: short}}}},
		{"want nothing", &Want{}},
		{"want from 0", &Want{Ranges: []Range{{Log: testLog(1, 0)}}}},
		{"fork seq 0", &Fork{Log: testLog(1, 0)}},
		{"bye long", &Bye{Text: strings.Repeat("x", MaxByeText+1)}},
		{"bye not UTF-8", &Bye{Text: "\xff"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if b, err := Marshal(c.m); err == nil {
				t.Fatalf("Marshal = %d bytes, want an error", len(b))
			}
		})
	}
}

// FuzzReadFrame: ReadFrame never panics, and whatever it accepts
// re-encodes to exactly the bytes it consumed (one encoding per message).
func FuzzReadFrame(f *testing.F) {
	for _, m := range sampleMsgs(f) {
		b, err := Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x81, 0x00})
	f.Add(uv(MaxFrame + 1))
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bytes.NewReader(in)
		r := bufio.NewReader(br)
		m, err := ReadFrame(r, 0)
		if err != nil {
			return
		}
		consumed := len(in) - br.Len() - r.Buffered()
		out, err := Marshal(m)
		if err != nil {
			t.Fatalf("accepted %s does not re-encode: %v", m.Type(), err)
		}
		if !bytes.Equal(out, in[:consumed]) {
			t.Fatalf("accepted %x, re-encodes to %x", in[:consumed], out)
		}
	})
}
