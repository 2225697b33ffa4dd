// Package oplog is Seedpod's write model, pure: every change to a pod is an
// op appended to the writing device's own log. An op carries a hybrid
// logical clock, is hash-chained to its predecessor and signed with the
// device's Ed25519 key; the exact encoded bytes are what is signed and what
// travels between devices (notes/sync.md §3.2).
//
// It owns the op format and its canonical binary encoding, the clock, the
// chain and signature checks, the per-device Log that appends, and the merge
// rules (merge.go) whose fold any order of the same ops reaches the same
// state with. It imports no database, network or UI; pod/store applies ops
// to tables and sync moves them between devices.
package oplog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Format limits. An op is small: a post's text is at most 65,535
// characters, so 1 MiB of body leaves room for everything else.
const (
	MaxBody     = 1 << 20
	MaxDeviceID = 64
	// version of the encoding itself (not of the op kinds: Schema).
	encodingVersion = 1
)

// Errors every decoding and checking failure wraps.
var (
	ErrMalformed = errors.New("malformed op")
	ErrSignature = errors.New("op signature does not verify")
	ErrChain     = errors.New("op does not follow its log")
)

// LogID names one device's log: the device (its Ed25519 public key) and the
// epoch, a random number a device draws when its database is created or
// restored from a backup, so a restored device never reuses sequence
// numbers it may already have handed out.
type LogID struct {
	Device ed25519.PublicKey
	Epoch  uint64
}

// String is a short printable form for logs and errors.
func (l LogID) String() string {
	d := l.Device
	if len(d) > 6 {
		d = d[:6]
	}
	return fmt.Sprintf("%x/%x", []byte(d), l.Epoch)
}

// Equal compares two log IDs.
func (l LogID) Equal(o LogID) bool { return l.Epoch == o.Epoch && bytes.Equal(l.Device, o.Device) }

// Compare orders log IDs (for tie-breaks): by device bytes, then epoch.
func (l LogID) Compare(o LogID) int {
	if c := bytes.Compare(l.Device, o.Device); c != 0 {
		return c
	}
	switch {
	case l.Epoch < o.Epoch:
		return -1
	case l.Epoch > o.Epoch:
		return 1
	}
	return 0
}

// Kind says what an op does; Schema says which version of the kinds the
// writer knew. A reader stores and forwards kinds it does not know and
// applies them after an upgrade. A kind number is never reused.
type Kind uint16

// Op is one change.
type Op struct {
	Log    LogID
	Seq    uint64   // 1, 2, 3… without gaps within a log
	Prev   [32]byte // Hash of the previous op of the log; zero for Seq 1
	Clock  HLC
	Schema uint16
	Kind   Kind
	Body   []byte // the kind's payload (kinds.go)
}

// ID identifies an op across all logs.
type ID struct {
	Log LogID
	Seq uint64
}

// ID returns the op's identity.
func (o *Op) ID() ID { return ID{o.Log, o.Seq} }

// Key is a canonical string form of the ID, usable as a map key (ID holds a
// slice and is not comparable): device hex, epoch and seq.
func (id ID) Key() string {
	return fmt.Sprintf("%x:%x:%d", []byte(id.Log.Device), id.Log.Epoch, id.Seq)
}

// Compare orders op IDs: by log, then sequence number.
func (id ID) Compare(o ID) int {
	if c := id.Log.Compare(o.Log); c != 0 {
		return c
	}
	switch {
	case id.Seq < o.Seq:
		return -1
	case id.Seq > o.Seq:
		return 1
	}
	return 0
}

// Encode is the canonical encoding: the bytes that are signed, hashed and
// sent. Integers are big-endian and fixed-width, variable fields carry a
// 4-byte length, so one op has exactly one encoding.
func (o *Op) Encode() ([]byte, error) {
	if len(o.Log.Device) == 0 || len(o.Log.Device) > MaxDeviceID {
		return nil, fmt.Errorf("%w: device id of %d bytes", ErrMalformed, len(o.Log.Device))
	}
	if o.Seq == 0 {
		return nil, fmt.Errorf("%w: seq 0", ErrMalformed)
	}
	if len(o.Body) > MaxBody {
		return nil, fmt.Errorf("%w: body of %d bytes (max %d)", ErrMalformed, len(o.Body), MaxBody)
	}
	b := make([]byte, 0, 1+1+len(o.Log.Device)+8+8+32+12+2+2+4+len(o.Body))
	b = append(b, encodingVersion, byte(len(o.Log.Device)))
	b = append(b, o.Log.Device...)
	b = binary.BigEndian.AppendUint64(b, o.Log.Epoch)
	b = binary.BigEndian.AppendUint64(b, o.Seq)
	b = append(b, o.Prev[:]...)
	b = binary.BigEndian.AppendUint64(b, o.Clock.Wall)
	b = binary.BigEndian.AppendUint32(b, o.Clock.Logical)
	b = binary.BigEndian.AppendUint16(b, o.Schema)
	b = binary.BigEndian.AppendUint16(b, uint16(o.Kind))
	b = binary.BigEndian.AppendUint32(b, uint32(len(o.Body)))
	b = append(b, o.Body...)
	return b, nil
}

// Decode parses an encoded op strictly: one encoding per op, nothing
// trailing, every length within its cap.
func Decode(b []byte) (*Op, error) {
	r := reader{b: b}
	if v := r.u8(); v != encodingVersion {
		return nil, fmt.Errorf("%w: encoding version %d", ErrMalformed, v)
	}
	n := int(r.u8())
	if n == 0 || n > MaxDeviceID {
		return nil, fmt.Errorf("%w: device id of %d bytes", ErrMalformed, n)
	}
	o := &Op{}
	o.Log.Device = ed25519.PublicKey(bytes.Clone(r.take(n)))
	o.Log.Epoch = r.u64()
	o.Seq = r.u64()
	copy(o.Prev[:], r.take(32))
	o.Clock.Wall = r.u64()
	o.Clock.Logical = r.u32()
	o.Schema = r.u16()
	o.Kind = Kind(r.u16())
	bl := r.u32()
	if bl > MaxBody {
		return nil, fmt.Errorf("%w: body of %d bytes (max %d)", ErrMalformed, bl, MaxBody)
	}
	o.Body = bytes.Clone(r.take(int(bl)))
	if r.err {
		return nil, fmt.Errorf("%w: truncated (%d bytes)", ErrMalformed, len(b))
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	if o.Seq == 0 {
		return nil, fmt.Errorf("%w: seq 0", ErrMalformed)
	}
	if o.Seq == 1 && o.Prev != ([32]byte{}) {
		return nil, fmt.Errorf("%w: the first op of a log has a predecessor", ErrMalformed)
	}
	return o, nil
}

type reader struct {
	b   []byte
	err bool
}

func (r *reader) take(n int) []byte {
	if r.err || n < 0 || len(r.b) < n {
		r.err = true
		return make([]byte, max(n, 0))
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
func (r *reader) u8() byte    { return r.take(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.take(8)) }

// Signed is an op as stored and sent: its encoding and the device's
// signature over it.
type Signed struct {
	Bytes []byte
	Sig   []byte
}

// Sign encodes op and signs it with the device key, which must be the key
// the op's log is named after.
func Sign(op *Op, key ed25519.PrivateKey) (Signed, error) {
	if !bytes.Equal(key.Public().(ed25519.PublicKey), op.Log.Device) {
		return Signed{}, fmt.Errorf("sign op %s:%d: the key is not the log's device key", op.Log, op.Seq)
	}
	b, err := op.Encode()
	if err != nil {
		return Signed{}, err
	}
	return Signed{Bytes: b, Sig: ed25519.Sign(key, b)}, nil
}

// Open decodes a signed op and verifies its signature with the device key
// named in the op itself (the caller checks that the device is paired).
func Open(s Signed) (*Op, error) {
	op, err := Decode(s.Bytes)
	if err != nil {
		return nil, err
	}
	if len(op.Log.Device) != ed25519.PublicKeySize || len(s.Sig) != ed25519.SignatureSize ||
		!ed25519.Verify(op.Log.Device, s.Bytes, s.Sig) {
		return nil, fmt.Errorf("%w: op %s:%d", ErrSignature, op.Log, op.Seq)
	}
	return op, nil
}

// Hash is what the next op of the log chains to: SHA-256 of the bytes and
// the signature.
func (s Signed) Hash() [32]byte {
	h := sha256.New()
	h.Write(s.Bytes)
	h.Write(s.Sig)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Head is how far a log is known: its last sequence number and that op's
// hash (zero for an empty log).
type Head struct {
	Seq  uint64
	Hash [32]byte
}

// Follow checks that op is the next op after head and returns the new head.
// A duplicate (seq ≤ head) is reported as ErrChain too; the caller compares
// it with what it stored to tell a harmless resend from a fork.
func Follow(head Head, op *Op, s Signed) (Head, error) {
	if op.Seq != head.Seq+1 {
		return head, fmt.Errorf("%w: %s: seq %d after %d", ErrChain, op.Log, op.Seq, head.Seq)
	}
	if op.Prev != head.Hash {
		return head, fmt.Errorf("%w: %s:%d does not chain to the previous op", ErrChain, op.Log, op.Seq)
	}
	return Head{Seq: op.Seq, Hash: s.Hash()}, nil
}
