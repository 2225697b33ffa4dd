package pair

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// Window limits.
const (
	// DefaultTTL is how long a pairing window stays open (docs/sync.md).
	DefaultTTL = 10 * time.Minute
	// MaxTTL caps a window's life (the p2p gater's MaxPairingWindow).
	MaxTTL = 30 * time.Minute
	// MaxFailures failed proofs burn a window.
	MaxFailures = 3
)

// Window is the existing device's side of one pairing: the code it shows and what became
// of it. It is single use, burned by MaxFailures failed proofs, dead after its expiry or
// Close. A Window is safe for concurrent use; Existing may run on several streams at once
// against one Window, and at most one of them gets the bundle.
type Window struct {
	mu       sync.Mutex
	code     Code
	failures int
	reserved bool // a proof succeeded and its exchange is running
	used     bool // a bundle was written
	closed   bool
}

// NewWindow opens a pairing window for the device self (its peer ID) reachable at addrs,
// with a fresh random secret, open until now+ttl (rounded down to a second). Addresses
// are kept in the caller's order of preference: a trailing /p2p/<self> is removed, and an
// address is left out when the code would grow beyond MaxAddrs or MaxCodeLen (Code().Addrs
// says what went in). A malformed address is an error.
func NewWindow(self string, addrs []string, ttl time.Duration, now time.Time) (*Window, error) {
	if _, err := checkPeer(self); err != nil {
		return nil, fmt.Errorf("pairing window: %w", err)
	}
	if ttl <= 0 || ttl > MaxTTL {
		return nil, fmt.Errorf("pairing window: ttl %v out of range (0, %v]", ttl, MaxTTL)
	}
	c := Code{Peer: self, Expires: time.Unix(now.Add(ttl).Unix(), 0)} // as ParseCode reads it
	if _, err := rand.Read(c.Secret[:]); err != nil {
		return nil, fmt.Errorf("pairing window: secret: %w", err)
	}
	selfPart, err := ma.NewComponent("p2p", self)
	if err != nil {
		return nil, fmt.Errorf("pairing window: %w: %w", ErrBadPeer, err)
	}
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return nil, fmt.Errorf("pairing window: %w: %q: %w", ErrBadAddr, clip(a, 60), err)
		}
		if len(m) > 0 && m[len(m)-1].Equal(selfPart) {
			m = m[:len(m)-1]
		}
		s := m.String()
		if err := checkAddr(s); err != nil {
			return nil, fmt.Errorf("pairing window: %w", err)
		}
		if len(c.Addrs) == MaxAddrs || len(c.Format())+1+len(s) > MaxCodeLen {
			continue
		}
		c.Addrs = append(c.Addrs, s)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("pairing window: %w", err)
	}
	return &Window{code: c}, nil
}

// Code returns the code to show (text with Format, image with QR). It holds the secret.
func (w *Window) Code() Code {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.code
	c.Addrs = append([]string(nil), c.Addrs...)
	return c
}

// Expires returns the end of the window.
func (w *Window) Expires() time.Time { return w.code.Expires } // immutable after NewWindow

// Peer returns the existing device's peer ID the window was opened for.
func (w *Window) Peer() string { return w.code.Peer } // immutable after NewWindow

// Failures returns the number of failed proofs so far.
func (w *Window) Failures() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failures
}

// Check returns nil while the window takes new attempts at now, else why not: ErrClosed,
// ErrUsed (also while another device's exchange is running), ErrExpired or ErrBurned. The
// host's gater asks it whether to keep admitting an unknown peer.
func (w *Window) Check(now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.checkLocked(now)
}

// Close ends the window (the user cancelled); later attempts get ErrClosed. An exchange
// already past its proof finishes.
func (w *Window) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

func (w *Window) checkLocked(now time.Time) error {
	switch {
	case w.closed:
		return ErrClosed
	case w.used || w.reserved:
		return ErrUsed
	case !now.Before(w.code.Expires):
		return ErrExpired
	case w.failures >= MaxFailures:
		return ErrBurned
	}
	return nil
}

// attempt runs the window's part of step 2 under its lock: refuse a dead window, verify
// the proof with verify, count a failure or reserve the window.
func (w *Window) attempt(now time.Time, verify func(secret []byte) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.checkLocked(now); err != nil {
		return err
	}
	if err := verify(w.code.Secret[:]); err != nil {
		w.failures++
		if w.failures >= MaxFailures {
			return fmt.Errorf("%w; the window is now burned (%d failed proofs)", err, w.failures)
		}
		return err
	}
	w.reserved = true
	return nil
}

// release ends the reservation of a successful proof: used when the bundle went out,
// open again otherwise.
func (w *Window) release(used bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reserved = false
	if used {
		w.used = true
	}
}

// secret returns the secret (immutable after NewWindow).
func (w *Window) secret() []byte { return w.code.Secret[:] }
