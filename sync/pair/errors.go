package pair

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Errors of the exchange. They come wrapped with the step ("pairing step hello: …") and the
// detail; errors.Is finds them. A refusal the other side sent is a *RefusedError that
// matches ErrRefused and the sentinel of its reason.
var (
	ErrBadProof   = errors.New("pairing proof does not match (wrong code, or not the device in the code)")
	ErrExpired    = errors.New("pairing window expired")
	ErrBurned     = errors.New("pairing window burned by failed attempts")
	ErrUsed       = errors.New("pairing window already used")
	ErrClosed     = errors.New("pairing window closed")
	ErrTooLarge   = errors.New("pairing message too large")
	ErrMalformed  = errors.New("malformed pairing message")
	ErrVersion    = errors.New("unsupported pairing protocol version")
	ErrBadBundle  = errors.New("pairing bundle does not open (tampered, or bound to other peers)")
	ErrSamePeer   = errors.New("a device cannot pair with itself")
	ErrRefused    = errors.New("the other device refused")
	ErrInternal   = errors.New("the existing device failed to build the bundle")
	errUnknownWhy = errors.New("unknown reason")
)

// reasons maps a refusal's reason byte to its sentinel; the byte is the index + 1. Append
// only: the bytes are on the wire.
var reasons = []error{
	ErrBadProof, ErrExpired, ErrBurned, ErrUsed, ErrClosed,
	ErrTooLarge, ErrMalformed, ErrVersion, ErrBadBundle, ErrSamePeer, ErrInternal,
}

func reasonOf(err error) byte {
	for i, r := range reasons {
		if errors.Is(err, r) {
			return byte(i + 1)
		}
	}
	return 0
}

// RefusedError is a refusal received from the other device.
type RefusedError struct {
	Reason error  // one of the sentinels above (errUnknownWhy for a reason this version does not know)
	Text   string // the other side's words, sanitized, at most 256 bytes
}

func (e *RefusedError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("%v: %v", ErrRefused, e.Reason)
	}
	return fmt.Sprintf("%v: %v (%s)", ErrRefused, e.Reason, e.Text)
}

// Unwrap makes errors.Is match ErrRefused and the reason's sentinel.
func (e *RefusedError) Unwrap() []error { return []error{ErrRefused, e.Reason} }

func refusalBody(err error) []byte {
	text := []byte(clip(err.Error(), maxRefusalText-len("…")))
	b := []byte{reasonOf(err)}
	return appendBytes(b, text)
}

func parseRefusal(body []byte) (*RefusedError, error) {
	d := dec{b: body}
	why := d.fixed(1, "refusal reason")
	text := d.bytes(maxRefusalText, "refusal text")
	if err := d.end("refusal"); err != nil {
		return nil, err
	}
	re := &RefusedError{Reason: errUnknownWhy}
	if i := int(why[0]); i >= 1 && i <= len(reasons) {
		re.Reason = reasons[i-1]
	}
	// The text comes from the other device: printable, valid UTF-8, for logs and the UI.
	re.Text = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, string(text))
	return re, nil
}

// stepError names the step an error happened in.
func stepError(step string, err error) error {
	return fmt.Errorf("pairing step %s: %w", step, err)
}
