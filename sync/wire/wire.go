// Package wire is the frame and message format of the device sync protocol
// /seedpod/sync/1 (docs/sync.md), pure: Hello, Batch, Ack, Want, Fork and
// Bye, their binary encoding, and the caps every count and length is held
// to.
//
// A frame is the uvarint length of the rest, one type byte, then the body.
// Bodies are binary: uvarints (minimal encoding only), fixed-size device
// keys and hashes, and length-prefixed byte strings. Every message has
// exactly one encoding — a decoder refuses non-minimal varints, unknown
// types, anything over a cap and trailing bytes — so whatever ReadFrame
// accepts re-encodes to the bytes it read (FuzzReadFrame checks that).
//
// Ops travel as oplog.Signed (bytes and signature) without being decoded
// here; sync/session decodes and checks them. This package imports only
// pod/oplog (for its types) and the standard library: no network, no
// database, nothing above it.
package wire

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"seedpod/pod/oplog"
)

// Protocol is the libp2p protocol ID these frames travel under; the
// message formats are versioned by it (and by Hello's proto range).
const Protocol = "/seedpod/sync/1"

// Version is the session protocol version this package speaks (Hello's
// ProtoMin..ProtoMax must include it).
const Version = 1

// Caps (docs/sync.md).
const (
	// MaxBatchBody is the largest encoded Batch body a sender builds: 4 MiB.
	MaxBatchBody = 4 << 20
	// MaxFrame is the largest frame length (type byte and body): a full
	// batch and room for the type byte and the op count.
	MaxFrame = MaxBatchBody + 64
	// MaxBatchOps is the most ops one Batch carries.
	MaxBatchOps = 1000
	// MaxHeads is the most logs a Hello or an Ack names.
	MaxHeads = 4096
	// MaxWant is the most ranges one Want names.
	MaxWant = MaxHeads
	// MaxByeText is the longest Bye text in bytes (valid UTF-8).
	MaxByeText = 256
	// MaxOpBytes is the longest encoded op: oplog's fixed header with the
	// largest device ID, and the largest body.
	MaxOpBytes = opHeader + oplog.MaxBody
	// Window is the most Batches a sender may have unacknowledged: the
	// receiver buffers that many and refuses a peer that sends more.
	Window = 4

	// DeviceSize and HashSize are the fixed sizes of a device key
	// (Ed25519 public key) and of a head hash.
	DeviceSize = ed25519.PublicKeySize
	HashSize   = 32
	// SigSize is an op signature's size (Ed25519).
	SigSize = ed25519.SignatureSize

	// opHeader is oplog's encoding without the body: version, device
	// length, device (≤ 64), epoch, seq, prev, clock (12), schema, kind,
	// body length.
	opHeader = 1 + 1 + oplog.MaxDeviceID + 8 + 8 + 32 + 12 + 2 + 2 + 4
)

// Errors every decoding failure wraps.
var (
	// ErrMalformed: a frame or body that breaks the format.
	ErrMalformed = errors.New("malformed sync frame")
	// ErrTooLarge: a frame whose length is over the cap (refused before
	// anything is allocated for it).
	ErrTooLarge = errors.New("sync frame too large")
)

// Type is a frame's type byte.
type Type byte

// The message types. A number is never reused.
const (
	TypeHello Type = 1
	TypeBatch Type = 2
	TypeAck   Type = 3
	TypeWant  Type = 4
	TypeFork  Type = 5
	TypeBye   Type = 6
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "Hello"
	case TypeBatch:
		return "Batch"
	case TypeAck:
		return "Ack"
	case TypeWant:
		return "Want"
	case TypeFork:
		return "Fork"
	case TypeBye:
		return "Bye"
	}
	return fmt.Sprintf("type %d", byte(t))
}

// Msg is one of the messages below (*Hello, *Batch, *Ack, *Want, *Fork,
// *Bye).
type Msg interface {
	Type() Type
	// appendBody appends the encoded body, refusing what breaks a cap.
	appendBody(b []byte) ([]byte, error)
	decodeBody(d *decoder)
}

// LogHead is one log's head as a Hello or Ack names it.
type LogHead struct {
	Log  oplog.LogID
	Head oplog.Head
}

// Hello opens a session; both sides send it at once. Log is the sender's
// own current log (its device key and epoch); Heads are the logs it has.
type Hello struct {
	ProtoMin, ProtoMax uint64
	Log                oplog.LogID
	Heads              []LogHead
}

// Batch carries ops of one or several logs, each log's ops in seq order;
// the receiver applies it in one transaction and answers with one Ack.
// Decoded op bytes and signatures alias the frame's buffer.
type Batch struct {
	Ops []oplog.Signed
}

// Ack answers one Batch, in order, after the receiver committed it: the
// heads of the logs of the batch it took.
type Ack struct {
	Heads []LogHead
}

// Range is "send me Log from seq From on".
type Range struct {
	Log  oplog.LogID
	From uint64
}

// Want re-requests logs from a sequence number (a gap, a refused batch, a
// log that became acceptable).
type Want struct {
	Ranges []Range
}

// Fork reports that the sender holds a different op than the receiver at
// Log:Seq: Mine is the sender's hash there, Yours the receiver's.
type Fork struct {
	Log   oplog.LogID
	Seq   uint64
	Mine  [32]byte
	Yours [32]byte
}

// ByeCode says why a session ends.
type ByeCode byte

// Bye reasons. Unknown codes are carried as they are.
const (
	ByeDone     ByeCode = 0 // an orderly end (shutdown)
	ByeProtocol ByeCode = 1 // a malformed or unexpected frame, a bad op
	ByeUnpaired ByeCode = 2 // the peer's device is not paired
	ByeVersion  ByeCode = 3 // no common protocol version
	ByeInternal ByeCode = 4 // a local failure (database)
	ByeTimeout  ByeCode = 5 // the peer was too slow (Hello)
)

func (c ByeCode) String() string {
	switch c {
	case ByeDone:
		return "done"
	case ByeProtocol:
		return "protocol error"
	case ByeUnpaired:
		return "unpaired"
	case ByeVersion:
		return "version"
	case ByeInternal:
		return "internal error"
	case ByeTimeout:
		return "timeout"
	}
	return fmt.Sprintf("code %d", byte(c))
}

// Bye ends a session; the sender closes the stream after it.
type Bye struct {
	Code ByeCode
	Text string
}

func (*Hello) Type() Type { return TypeHello }
func (*Batch) Type() Type { return TypeBatch }
func (*Ack) Type() Type   { return TypeAck }
func (*Want) Type() Type  { return TypeWant }
func (*Fork) Type() Type  { return TypeFork }
func (*Bye) Type() Type   { return TypeBye }

// Marshal encodes m as a whole frame (length, type, body). It refuses a
// message that breaks a cap, so nothing is sent that a peer must refuse.
func Marshal(m Msg) ([]byte, error) {
	return AppendFrame(nil, m)
}

// AppendFrame appends m's frame to b.
func AppendFrame(b []byte, m Msg) ([]byte, error) {
	if m == nil {
		return b, fmt.Errorf("%w: nil message", ErrMalformed)
	}
	body, err := m.appendBody([]byte{byte(m.Type())})
	if err != nil {
		return b, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	if len(body) > MaxFrame {
		return b, fmt.Errorf("encode %s: %w: %d bytes (max %d)", m.Type(), ErrTooLarge, len(body), MaxFrame)
	}
	b = binary.AppendUvarint(b, uint64(len(body)))
	return append(b, body...), nil
}

// WriteFrame encodes m and writes its frame with a single Write.
func WriteFrame(w io.Writer, m Msg) (int, error) {
	b, err := Marshal(m)
	if err != nil {
		return 0, err
	}
	return w.Write(b)
}

// BatchBodySize is the encoded size of a Batch body holding ops (without
// the frame's length and type byte): what a sender compares with
// MaxBatchBody while it fills a batch.
func BatchBodySize(ops []oplog.Signed) int {
	n := uvarintLen(uint64(len(ops)))
	for _, s := range ops {
		n += OpSize(s)
	}
	return n
}

// OpSize is what one op adds to a Batch body.
func OpSize(s oplog.Signed) int {
	return uvarintLen(uint64(len(s.Bytes))) + len(s.Bytes) + len(s.Sig)
}

// ReadFrame reads one frame and decodes it. A length over max (MaxFrame
// when max ≤ 0 or above it) is refused before anything is allocated. At a
// frame boundary a closed stream gives io.EOF; inside a frame,
// io.ErrUnexpectedEOF.
func ReadFrame(r *bufio.Reader, max int) (Msg, error) {
	if max <= 0 || max > MaxFrame {
		max = MaxFrame
	}
	n, err := readUvarint(r)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: frame of %d bytes (max %d)", ErrTooLarge, n, max)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read frame of %d bytes: %w", n, err)
	}
	return Unmarshal(buf)
}

// Unmarshal decodes a frame's content (type byte and body, without the
// length). Byte strings in the result alias b.
func Unmarshal(b []byte) (Msg, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	var m Msg
	switch Type(b[0]) {
	case TypeHello:
		m = &Hello{}
	case TypeBatch:
		m = &Batch{}
	case TypeAck:
		m = &Ack{}
	case TypeWant:
		m = &Want{}
	case TypeFork:
		m = &Fork{}
	case TypeBye:
		m = &Bye{}
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrMalformed, b[0])
	}
	d := &decoder{b: b[1:]}
	m.decodeBody(d)
	if d.err != nil {
		return nil, fmt.Errorf("decode %s: %w", m.Type(), d.err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("decode %s: %w: %d trailing bytes", m.Type(), ErrMalformed, len(d.b))
	}
	return m, nil
}

// readUvarint reads a minimally encoded uvarint from a stream.
func readUvarint(r io.ByteReader) (uint64, error) {
	var x uint64
	var s uint
	for i := range binary.MaxVarintLen64 {
		c, err := r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if c < 0x80 {
			if i > 0 && c == 0 {
				return 0, fmt.Errorf("%w: non-minimal frame length", ErrMalformed)
			}
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, fmt.Errorf("%w: frame length overflows", ErrMalformed)
			}
			return x | uint64(c)<<s, nil
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, fmt.Errorf("%w: frame length overflows", ErrMalformed)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// --- bodies

func appendLog(b []byte, l oplog.LogID) ([]byte, error) {
	if len(l.Device) != DeviceSize {
		return b, fmt.Errorf("%w: device key of %d bytes (want %d)", ErrMalformed, len(l.Device), DeviceSize)
	}
	b = append(b, l.Device...)
	return binary.AppendUvarint(b, l.Epoch), nil
}

func appendHeads(b []byte, heads []LogHead) ([]byte, error) {
	if len(heads) > MaxHeads {
		return b, fmt.Errorf("%w: %d heads (max %d)", ErrMalformed, len(heads), MaxHeads)
	}
	b = binary.AppendUvarint(b, uint64(len(heads)))
	for _, h := range heads {
		var err error
		if b, err = appendLog(b, h.Log); err != nil {
			return b, err
		}
		b = binary.AppendUvarint(b, h.Head.Seq)
		b = append(b, h.Head.Hash[:]...)
	}
	return b, nil
}

func (m *Hello) appendBody(b []byte) ([]byte, error) {
	if m.ProtoMin > m.ProtoMax {
		return b, fmt.Errorf("%w: proto range %d..%d", ErrMalformed, m.ProtoMin, m.ProtoMax)
	}
	b = binary.AppendUvarint(b, m.ProtoMin)
	b = binary.AppendUvarint(b, m.ProtoMax)
	b, err := appendLog(b, m.Log)
	if err != nil {
		return b, err
	}
	return appendHeads(b, m.Heads)
}

func (m *Hello) decodeBody(d *decoder) {
	m.ProtoMin = d.uvarint()
	m.ProtoMax = d.uvarint()
	if d.err == nil && m.ProtoMin > m.ProtoMax {
		d.fail("proto range %d..%d", m.ProtoMin, m.ProtoMax)
	}
	m.Log = d.log()
	m.Heads = d.heads()
}

func (m *Batch) appendBody(b []byte) ([]byte, error) {
	if len(m.Ops) == 0 || len(m.Ops) > MaxBatchOps {
		return b, fmt.Errorf("%w: batch of %d ops (1..%d)", ErrMalformed, len(m.Ops), MaxBatchOps)
	}
	start := len(b)
	b = binary.AppendUvarint(b, uint64(len(m.Ops)))
	for i, s := range m.Ops {
		if len(s.Bytes) == 0 || len(s.Bytes) > MaxOpBytes {
			return b, fmt.Errorf("%w: op %d of %d bytes (1..%d)", ErrMalformed, i, len(s.Bytes), MaxOpBytes)
		}
		if len(s.Sig) != SigSize {
			return b, fmt.Errorf("%w: op %d signature of %d bytes (want %d)", ErrMalformed, i, len(s.Sig), SigSize)
		}
		b = binary.AppendUvarint(b, uint64(len(s.Bytes)))
		b = append(b, s.Bytes...)
		b = append(b, s.Sig...)
		if len(b)-start > MaxBatchBody {
			return b, fmt.Errorf("%w: batch body over %d bytes", ErrTooLarge, MaxBatchBody)
		}
	}
	return b, nil
}

func (m *Batch) decodeBody(d *decoder) {
	n := d.count(MaxBatchOps, 1+1+SigSize, "ops")
	if d.err == nil && n == 0 {
		d.fail("batch of no ops")
	}
	if d.err != nil {
		return
	}
	m.Ops = make([]oplog.Signed, 0, n)
	for range n {
		l := d.uvarint()
		if d.err == nil && (l == 0 || l > MaxOpBytes) {
			d.fail("op of %d bytes (1..%d)", l, MaxOpBytes)
		}
		s := oplog.Signed{Bytes: d.take(int(l)), Sig: d.take(SigSize)}
		if d.err != nil {
			return
		}
		m.Ops = append(m.Ops, s)
	}
}

func (m *Ack) appendBody(b []byte) ([]byte, error) { return appendHeads(b, m.Heads) }
func (m *Ack) decodeBody(d *decoder)               { m.Heads = d.heads() }

func (m *Want) appendBody(b []byte) ([]byte, error) {
	if len(m.Ranges) == 0 || len(m.Ranges) > MaxWant {
		return b, fmt.Errorf("%w: want of %d ranges (1..%d)", ErrMalformed, len(m.Ranges), MaxWant)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Ranges)))
	for _, r := range m.Ranges {
		var err error
		if b, err = appendLog(b, r.Log); err != nil {
			return b, err
		}
		if r.From == 0 {
			return b, fmt.Errorf("%w: want from seq 0", ErrMalformed)
		}
		b = binary.AppendUvarint(b, r.From)
	}
	return b, nil
}

func (m *Want) decodeBody(d *decoder) {
	n := d.count(MaxWant, DeviceSize+2, "ranges")
	if d.err == nil && n == 0 {
		d.fail("want of no ranges")
	}
	if d.err != nil {
		return
	}
	m.Ranges = make([]Range, 0, n)
	for range n {
		r := Range{Log: d.log(), From: d.uvarint()}
		if d.err == nil && r.From == 0 {
			d.fail("want from seq 0")
		}
		if d.err != nil {
			return
		}
		m.Ranges = append(m.Ranges, r)
	}
}

func (m *Fork) appendBody(b []byte) ([]byte, error) {
	b, err := appendLog(b, m.Log)
	if err != nil {
		return b, err
	}
	if m.Seq == 0 {
		return b, fmt.Errorf("%w: fork at seq 0", ErrMalformed)
	}
	b = binary.AppendUvarint(b, m.Seq)
	b = append(b, m.Mine[:]...)
	return append(b, m.Yours[:]...), nil
}

func (m *Fork) decodeBody(d *decoder) {
	m.Log = d.log()
	m.Seq = d.uvarint()
	if d.err == nil && m.Seq == 0 {
		d.fail("fork at seq 0")
	}
	copy(m.Mine[:], d.take(HashSize))
	copy(m.Yours[:], d.take(HashSize))
}

func (m *Bye) appendBody(b []byte) ([]byte, error) {
	if len(m.Text) > MaxByeText || !utf8.ValidString(m.Text) {
		return b, fmt.Errorf("%w: bye text of %d bytes (max %d, UTF-8)", ErrMalformed, len(m.Text), MaxByeText)
	}
	b = append(b, byte(m.Code))
	b = binary.AppendUvarint(b, uint64(len(m.Text)))
	return append(b, m.Text...), nil
}

func (m *Bye) decodeBody(d *decoder) {
	if c := d.take(1); d.err == nil {
		m.Code = ByeCode(c[0])
	}
	n := d.count(MaxByeText, 1, "bye text bytes")
	t := d.take(n)
	if d.err == nil && !utf8.Valid(t) {
		d.fail("bye text is not UTF-8")
	}
	m.Text = string(t)
}

// decoder reads a body; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail("truncated: want %d bytes, %d left", n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	if n != uvarintLen(v) {
		d.fail("non-minimal uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count and checks it against its cap before anything is
// allocated for it.
// Each item takes at least minSize bytes, so a count the rest of the body
// cannot hold is refused too.
func (d *decoder) count(max, minSize int, what string) int {
	v := d.uvarint()
	if d.err == nil && v > uint64(max) {
		d.fail("%d %s (max %d)", v, what, max)
		return 0
	}
	if d.err == nil && v*uint64(minSize) > uint64(len(d.b)) {
		d.fail("%d %s in %d bytes", v, what, len(d.b))
		return 0
	}
	return int(v)
}

func (d *decoder) log() oplog.LogID {
	dev := d.take(DeviceSize)
	ep := d.uvarint()
	if d.err != nil {
		return oplog.LogID{}
	}
	// A copy: a log ID outlives its frame (maps keyed by log).
	return oplog.LogID{Device: ed25519.PublicKey(bytes.Clone(dev)), Epoch: ep}
}

func (d *decoder) heads() []LogHead {
	n := d.count(MaxHeads, DeviceSize+2+HashSize, "heads")
	if d.err != nil || n == 0 {
		return nil
	}
	out := make([]LogHead, 0, n)
	for range n {
		h := LogHead{Log: d.log()}
		h.Head.Seq = d.uvarint()
		copy(h.Head.Hash[:], d.take(HashSize))
		if d.err != nil {
			return nil
		}
		out = append(out, h)
	}
	return out
}
