package pair

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// ProtocolID is the libp2p protocol the exchange runs on.
const ProtocolID = "/seedpod/pair/1"

// Timeouts of the exchange.
const (
	// StepTimeout bounds each step (one frame read or written) when the ctx allows longer.
	StepTimeout = 30 * time.Second
	// refuseTimeout bounds writing a refusal: the other side may not be reading.
	refuseTimeout = 2 * time.Second
)

// Domain-separation labels. Each MAC and the AEAD key get their own, so no value computed
// for one purpose is valid for another (mac_N is not mac_E, and neither is a bundle key).
const (
	labelN      = "seedpod-pair-v1 N"
	labelE      = "seedpod-pair-v1 E"
	labelDone   = "seedpod-pair-v1 done"
	labelAD     = "seedpod-pair-v1 bundle"
	bundleInfo  = "seedpod identity transfer v1"
	keyLen      = chacha20poly1305.KeySize
	maxEncField = 1<<16 - 1
)

// Device is one side of a pairing as the other side learns it.
type Device struct {
	Peer    string // libp2p peer ID, canonical text form
	Name    string // user-visible name, 1 to MaxNameLen bytes
	Version string // the app's version, 1 to MaxVersionLen printable ASCII characters
}

// Existing runs the existing device's side of the exchange on rw, a stream from remotePeer
// (authenticated by the transport) during the window w. After the new device proved the
// secret and confirmed E's proof, bundle builds the provisioning bundle for it (at most
// MaxBundle bytes; the Bundle type's Marshal gives one); Existing seals and sends it and
// returns the new device once it confirmed the bundle opened. The caller then adds the
// device to its registry and closes the stream.
//
// Every failure returns an error naming the step; a bad proof counts against the window.
func Existing(ctx context.Context, rw io.ReadWriter, w *Window, remotePeer string, bundle func(newDevice Device) ([]byte, error)) (dev Device, err error) {
	st := newStepper(ctx, rw)
	defer st.finish()
	if _, err := checkPeer(remotePeer); err != nil {
		return Device{}, stepError("hello", fmt.Errorf("remote peer: %w", err))
	}
	eb, err := peerBytes(w.Peer())
	if err != nil {
		return Device{}, stepError("hello", err)
	}
	nb, err := peerBytes(remotePeer)
	if err != nil {
		return Device{}, stepError("hello", err)
	}

	// Step 1: Hello from N.
	body, err := st.read(rw, msgHello)
	if err != nil {
		return Device{}, st.fail(rw, "hello", err)
	}
	h, err := parseHello(body)
	if err != nil {
		return Device{}, st.fail(rw, "hello", err)
	}
	if h.version != protoVer {
		return Device{}, st.fail(rw, "hello", fmt.Errorf("%w: %d (this device speaks %d)", ErrVersion, h.version, protoVer))
	}
	if remotePeer == w.Peer() {
		return Device{}, st.fail(rw, "hello", fmt.Errorf("%w: %s", ErrSamePeer, remotePeer))
	}

	// Step 2: check mac_N, answer with mac_E.
	err = w.attempt(time.Now(), func(secret []byte) error {
		if !bytes.Equal(h.peer, nb) {
			return fmt.Errorf("%w: the hello names peer %s but the connection is from %s", ErrBadProof, peerText(h.peer), remotePeer)
		}
		if !hmac.Equal(h.mac, proof(secret, labelN, eb, nb)) {
			return fmt.Errorf("%w: from %s", ErrBadProof, remotePeer)
		}
		return nil
	})
	if err != nil {
		return Device{}, st.fail(rw, "hello", err)
	}
	sent := false
	defer func() { w.release(sent) }()
	secret := w.secret()
	if err := st.write(rw, msgAccept, proof(secret, labelE, eb, nb)); err != nil {
		return Device{}, st.fail(rw, "accept", err)
	}

	// Step 3: N's Info (or its refusal of mac_E).
	body, err = st.read(rw, msgInfo)
	if err != nil {
		return Device{}, st.fail(rw, "info", err)
	}
	in, err := parseInfo(body)
	if err != nil {
		return Device{}, st.fail(rw, "info", err)
	}
	dev = Device{Peer: remotePeer, Name: in.name, Version: in.version}

	// Step 4: the sealed bundle.
	plain, err := bundle(dev)
	if err != nil {
		return Device{}, st.fail(rw, "bundle", fmt.Errorf("%w: %w", ErrInternal, err))
	}
	if len(plain) > MaxBundle {
		return Device{}, st.fail(rw, "bundle", fmt.Errorf("%w: %w: bundle of %d bytes (at most %d)", ErrInternal, ErrTooLarge, len(plain), MaxBundle))
	}
	box, err := seal(secret, eb, nb, plain)
	if err != nil {
		return Device{}, st.fail(rw, "bundle", fmt.Errorf("%w: %w", ErrInternal, err))
	}
	sent = true // from here on the window is used, whatever happens to the write
	if err := st.write(rw, msgBundle, box); err != nil {
		return Device{}, st.fail(rw, "bundle", err)
	}

	// Step 5: N confirms the bundle opened.
	body, err = st.read(rw, msgDone)
	if err != nil {
		return Device{}, st.fail(rw, "done", err)
	}
	mac, err := parseMAC(body, "done")
	if err != nil {
		return Device{}, st.fail(rw, "done", err)
	}
	sum := sha256.Sum256(box)
	if !hmac.Equal(mac, proof(secret, labelDone, eb, nb, sum[:])) {
		return Device{}, st.fail(rw, "done", fmt.Errorf("%w: the confirmation of the bundle", ErrBadProof))
	}
	return dev, nil
}

// Join runs the new device's side on rw, a stream to the device the code names
// (authenticated by the transport as code.Peer). self is this device (its peer ID as the
// transport presents it, its name and version). It returns the bundle's plaintext once the
// existing device has proven the secret and the bundle opened.
//
// Before the existing device proves the secret, Join sends only its peer ID and mac_N (see
// the package doc for why that is safe).
func Join(ctx context.Context, rw io.ReadWriter, code Code, self Device) ([]byte, error) {
	st := newStepper(ctx, rw)
	defer st.finish()
	if err := code.validate(); err != nil {
		return nil, stepError("hello", fmt.Errorf("code: %w", err))
	}
	if _, err := checkPeer(self.Peer); err != nil {
		return nil, stepError("hello", fmt.Errorf("self: %w", err))
	}
	if err := checkName(self.Name); err != nil {
		return nil, stepError("hello", err)
	}
	if err := checkVersion(self.Version); err != nil {
		return nil, stepError("hello", err)
	}
	if self.Peer == code.Peer {
		return nil, stepError("hello", fmt.Errorf("%w: %s", ErrSamePeer, self.Peer))
	}
	if now := time.Now(); now.After(code.Expires.Add(MaxClockSkew)) {
		return nil, stepError("hello", fmt.Errorf("%w at %s", ErrExpired, code.Expires.UTC().Format(time.RFC3339)))
	}
	eb, err := peerBytes(code.Peer)
	if err != nil {
		return nil, stepError("hello", err)
	}
	nb, err := peerBytes(self.Peer)
	if err != nil {
		return nil, stepError("hello", err)
	}
	secret := code.Secret[:]

	// Step 1.
	h := hello{version: protoVer, peer: nb, mac: proof(secret, labelN, eb, nb)}
	if err := st.write(rw, msgHello, h.marshal()); err != nil {
		return nil, st.fail(rw, "hello", err)
	}

	// Step 2: E must prove the secret before N says anything more.
	body, err := st.read(rw, msgAccept)
	if err != nil {
		return nil, st.fail(rw, "accept", err)
	}
	mac, err := parseMAC(body, "accept")
	if err != nil {
		return nil, st.fail(rw, "accept", err)
	}
	if !hmac.Equal(mac, proof(secret, labelE, eb, nb)) {
		return nil, st.fail(rw, "accept", fmt.Errorf("%w: %s did not prove the secret", ErrBadProof, code.Peer))
	}

	// Step 3.
	if err := st.write(rw, msgInfo, info{name: self.Name, version: self.Version}.marshal()); err != nil {
		return nil, st.fail(rw, "info", err)
	}

	// Step 4.
	body, err = st.read(rw, msgBundle)
	if err != nil {
		return nil, st.fail(rw, "bundle", err)
	}
	plain, err := open(secret, eb, nb, body)
	if err != nil {
		return nil, st.fail(rw, "bundle", err)
	}

	// Step 5.
	sum := sha256.Sum256(body)
	if err := st.write(rw, msgDone, proof(secret, labelDone, eb, nb, sum[:])); err != nil {
		return nil, st.fail(rw, "done", err)
	}
	return plain, nil
}

// enc is the unambiguous encoding of the MAC inputs, the HKDF salt and the AD: every part
// preceded by its 2-byte big-endian length.
func enc(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += 2 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		if len(p) > maxEncField {
			panic("pair: enc part over 64 KiB") // peer IDs are capped at 128 bytes, hashes are 32
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return b
}

// proof is HMAC-SHA256 under the secret over the label and the parts.
func proof(secret []byte, label string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(enc(append([][]byte{[]byte(label)}, parts...)...))
	return m.Sum(nil)
}

func bundleAEAD(secret, eb, nb []byte) (ad []byte, seal func(nonce, plain []byte) []byte, open func(nonce, box []byte) ([]byte, error), err error) {
	key := make([]byte, keyLen)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, enc(eb, nb), []byte(bundleInfo)), key); err != nil {
		return nil, nil, nil, fmt.Errorf("bundle key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bundle key: %w", err)
	}
	ad = enc([]byte(labelAD), eb, nb, []byte{protoVer})
	return ad,
		func(nonce, plain []byte) []byte { return aead.Seal(nonce, nonce, plain, ad) },
		func(nonce, box []byte) ([]byte, error) { return aead.Open(nil, nonce, box, ad) },
		nil
}

// seal returns nonce ‖ XChaCha20-Poly1305(key, nonce, plain, AD).
func seal(secret, eb, nb, plain []byte) ([]byte, error) {
	_, sealFn, _, err := bundleAEAD(secret, eb, nb)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceLen, nonceLen+len(plain)+16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("bundle nonce: %w", err)
	}
	return sealFn(nonce, plain), nil
}

// open reverses seal; any change to the box, the key or the peers fails with ErrBadBundle.
func open(secret, eb, nb, body []byte) ([]byte, error) {
	nonce, box, err := parseBox(body)
	if err != nil {
		return nil, err
	}
	_, _, openFn, err := bundleAEAD(secret, eb, nb)
	if err != nil {
		return nil, err
	}
	plain, err := openFn(nonce, box)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBundle, err)
	}
	if len(plain) > MaxBundle {
		return nil, fmt.Errorf("%w: bundle of %d bytes (at most %d)", ErrTooLarge, len(plain), MaxBundle)
	}
	return plain, nil
}

func peerText(b []byte) string {
	if s, err := checkPeerBytes(b); err == nil {
		return s
	}
	return fmt.Sprintf("(invalid, %d bytes)", len(b))
}

// deadliner is what a stream needs for Existing and Join to bound each step.
type deadliner interface {
	SetDeadline(t time.Time) error
}

// stepper applies per-step deadlines from the ctx to a stream that takes deadlines, and
// interrupts a blocked step when the ctx is done.
type stepper struct {
	ctx  context.Context
	dl   deadliner // nil: the stream has no deadlines; the ctx is checked between steps
	stop func() bool

	mu       sync.Mutex
	canceled bool // the ctx ended: the stream has a deadline in the past
	finished bool // the exchange returned: the stream is the caller's again
}

func newStepper(ctx context.Context, rw io.ReadWriter) *stepper {
	s := &stepper{ctx: ctx}
	if d, ok := rw.(deadliner); ok {
		s.dl = d
		s.stop = context.AfterFunc(ctx, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.finished {
				return
			}
			s.canceled = true
			_ = d.SetDeadline(time.Unix(1, 0)) // in the past: unblocks a pending read or write
		})
	}
	return s
}

// begin starts a step: the ctx must be live, and the stream gets the step's deadline.
func (s *stepper) begin(limit time.Duration) error {
	if err := s.ctx.Err(); err != nil {
		return context.Cause(s.ctx)
	}
	if s.dl == nil {
		return nil
	}
	t := time.Now().Add(limit)
	if d, ok := s.ctx.Deadline(); ok && d.Before(t) {
		t = d
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.canceled {
		return context.Cause(s.ctx)
	}
	// An error here means the stream is closed or takes no deadlines: the I/O that follows
	// reports the first, and the second leaves the ctx checks between steps.
	_ = s.dl.SetDeadline(t)
	return nil
}

func (s *stepper) read(r io.Reader, t msgType) ([]byte, error) {
	if err := s.begin(StepTimeout); err != nil {
		return nil, err
	}
	return readMsg(r, t)
}

func (s *stepper) write(w io.Writer, t msgType, body []byte) error {
	if err := s.begin(StepTimeout); err != nil {
		return err
	}
	return writeMsg(w, t, body)
}

// fail ends the exchange at step: it sends the other side a refusal when the error is one
// of the protocol's (not an I/O error, not the other side's own refusal) and returns the
// error with the step's name, and the ctx's cause when the ctx ended it.
func (s *stepper) fail(w io.Writer, step string, err error) error {
	var re *RefusedError
	if reasonOf(err) != 0 && !errors.As(err, &re) {
		refusal := err
		if errors.Is(err, ErrInternal) {
			refusal = ErrInternal // the existing device's internals are not the new device's business
		}
		if s.beginRefusal() == nil {
			_ = writeMsg(w, msgRefuse, refusalBody(refusal))
		}
	}
	cause := context.Cause(s.ctx)
	if d, ok := s.ctx.Deadline(); cause == nil && ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		cause = context.DeadlineExceeded // the stream's deadline was the ctx's, and its timer fired first
	}
	if cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w: %w", cause, err)
	}
	return stepError(step, err)
}

// beginRefusal gives the refusal its own short deadline: the step's may have run out, and
// the other side may not be reading. A done ctx gets no refusal.
func (s *stepper) beginRefusal() error {
	if err := s.ctx.Err(); err != nil || s.dl == nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.canceled {
		return context.Cause(s.ctx)
	}
	return s.dl.SetDeadline(time.Now().Add(refuseTimeout))
}

// finish stops watching the ctx and clears the deadline: the caller owns the stream.
func (s *stepper) finish() {
	if s.dl == nil {
		return
	}
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished = true
	_ = s.dl.SetDeadline(time.Time{})
}
