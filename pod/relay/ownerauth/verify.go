package ownerauth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"seedpod/pod/diaspora/keys"
)

// DefaultMaxSkew is how far a request's timestamp may be from the relay's
// clock when Verifier.MaxSkew is zero. Five minutes absorbs phones whose clocks
// drift or have not synced yet, and is the window a captured request could be
// replayed in were it not for the nonce.
const DefaultMaxSkew = 5 * time.Minute

// KeyLookup returns an identity's public key; ok is false when the relay
// hosts no such identity. err is for failures of the lookup itself.
type KeyLookup func(ctx context.Context, identity string) (key *rsa.PublicKey, ok bool, err error)

// NonceStore remembers (identity, nonce) pairs until they expire.
type NonceStore interface {
	// Remember records (identity, nonce) until expires and reports whether
	// the pair was already recorded. Checking and recording must be one
	// atomic step: of concurrent calls with the same pair, exactly one
	// reports seen == false.
	Remember(ctx context.Context, identity, nonce string, expires time.Time) (seen bool, err error)
}

// Verifier checks signed owner API requests. Keys and Nonces are required;
// Now and MaxSkew default to time.Now and DefaultMaxSkew. A Verifier is safe
// for concurrent use if its KeyLookup and NonceStore are.
type Verifier struct {
	Keys    KeyLookup
	Nonces  NonceStore
	Now     func() time.Time
	MaxSkew time.Duration

	// OnError, when set, is told every failure Middleware answers, with
	// the full internal error (the client gets only a fixed message).
	OnError func(r *http.Request, err error)
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

// Verify checks req's signature over body (the complete request body, already
// read) and returns the identity it acts as. Errors wrap one of the package's
// Err values, or report a failure of the KeyLookup or NonceStore (or a
// Verifier missing either), which callers should treat as a server error.
func (v *Verifier) Verify(req *http.Request, body []byte) (identity string, err error) {
	s, err := v.precheck(req)
	if err != nil {
		return "", err
	}
	if err := v.check(req.Context(), s, body); err != nil {
		return "", err
	}
	return s.Identity, nil
}

// precheck does everything that needs neither the body nor a lookup: header
// form and clock skew. Middleware runs it before reading the body.
func (v *Verifier) precheck(req *http.Request) (*signed, error) {
	if v.Keys == nil || v.Nonces == nil {
		return nil, errors.New("ownerauth: Verifier needs both Keys and Nonces")
	}
	s, err := parse(req)
	if err != nil {
		return nil, err
	}
	now, skew := v.now(), v.maxSkew()
	if d := now.Sub(time.Unix(s.Timestamp, 0)); d > skew || d < -skew {
		return nil, fmt.Errorf("%w: timestamp %d is %v from now (allowed ±%v)", ErrExpired, s.Timestamp, d.Truncate(time.Second), skew)
	}
	return s, nil
}

// check is the rest of Verify: digest, key, signature, nonce — in that order,
// so that only correctly signed requests reach the nonce store.
func (v *Verifier) check(ctx context.Context, s *signed, body []byte) error {
	if Digest(body) != s.Digest {
		return fmt.Errorf("%w (%d-byte body)", ErrDigest, len(body))
	}
	key, ok, err := v.Keys(ctx, s.Identity)
	if err != nil {
		return fmt.Errorf("look up key of %q: %w", s.Identity, err)
	}
	if !ok || key == nil {
		return fmt.Errorf("%w: %q", ErrUnknownIdentity, s.Identity)
	}
	if err := keys.Verify(key, s.SigningString(), s.sig); err != nil {
		return fmt.Errorf("%w: as %q: %v", ErrBadSignature, s.Identity, err)
	}
	expires := time.Unix(s.Timestamp, 0).Add(v.maxSkew())
	seen, err := v.Nonces.Remember(ctx, s.Identity, s.Nonce, expires)
	if err != nil {
		return fmt.Errorf("remember nonce of %q: %w", s.Identity, err)
	}
	if seen {
		return fmt.Errorf("%w: nonce %q of %q", ErrReplayed, s.Nonce, s.Identity)
	}
	return nil
}

// Middleware reads the request body (at most maxBody bytes, else 413),
// verifies the request and calls next with the identity and body. r.Body is
// replaced by a reader over the same bytes. Every authentication failure is
// 401 with a JSON {"error", "message"}; an unknown identity and a bad
// signature get the same answer so identities cannot be enumerated. Failures
// of the key lookup or nonce store are 500 (503 when MemoryNonces is full).
func (v *Verifier) Middleware(maxBody int64, next func(w http.ResponseWriter, r *http.Request, identity string, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Header form and clock first: unsigned or stale requests are
		// refused without reading their bodies.
		s, err := v.precheck(r)
		if err != nil {
			v.fail(w, r, err)
			return
		}
		if r.ContentLength > maxBody {
			v.fail(w, r, &http.MaxBytesError{Limit: maxBody})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			v.fail(w, r, bodyReadError{fmt.Errorf("read request body: %w", err)})
			return
		}
		if err := v.check(r.Context(), s, body); err != nil {
			v.fail(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next(w, r, s.Identity, body)
	})
}

// Problem is the JSON body of a refused request.
type Problem struct {
	Error   string `json:"error"`   // stable machine-readable code
	Message string `json:"message"` // for people; never names internals
}

// problemFor maps an error to the status and safe body a client gets.
func problemFor(err error) (int, Problem) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, ErrUnsigned):
		return http.StatusUnauthorized, Problem{"unsigned", "this API requires a signed request"}
	case errors.Is(err, ErrMalformed):
		return http.StatusUnauthorized, Problem{"malformed_signature", "the request signature headers are malformed"}
	case errors.Is(err, ErrExpired):
		return http.StatusUnauthorized, Problem{"expired", "the request timestamp is too far from the relay's clock; check the device clock against the Date header"}
	case errors.Is(err, ErrDigest):
		return http.StatusUnauthorized, Problem{"digest_mismatch", "the request body does not match its digest"}
	case errors.Is(err, ErrUnknownIdentity), errors.Is(err, ErrBadSignature):
		return http.StatusUnauthorized, Problem{"bad_signature", "the request signature is not valid for this identity"}
	case errors.Is(err, ErrReplayed):
		return http.StatusUnauthorized, Problem{"replayed", "this request was already received; sign each request with a fresh nonce"}
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, Problem{"too_large", fmt.Sprintf("the request body exceeds %d bytes", tooBig.Limit)}
	case errors.Is(err, ErrNonceStoreFull):
		return http.StatusServiceUnavailable, Problem{"busy", "too many recent requests; retry shortly"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, Problem{"unavailable", "the request could not be checked in time"}
	default:
		if isBodyReadError(err) {
			return http.StatusBadRequest, Problem{"bad_body", "the request body could not be read"}
		}
		return http.StatusInternalServerError, Problem{"internal", "the request could not be checked"}
	}
}

// bodyReadError marks failures reading the body, which are the client's.
type bodyReadError struct{ error }

func (e bodyReadError) Unwrap() error { return e.error }

func isBodyReadError(err error) bool {
	var b bodyReadError
	return errors.As(err, &b)
}

func (v *Verifier) fail(w http.ResponseWriter, r *http.Request, err error) {
	if v.OnError != nil {
		v.OnError(r, err)
	}
	status, p := problemFor(err)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Seedpod-Signature headers="`+HeaderIdentity+` `+HeaderTimestamp+` `+HeaderNonce+` `+HeaderDigest+` `+HeaderSignature+`"`)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p) // the client may be gone; nothing to do about it
}
