package relayclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"seedpod/pod/httpclient"
)

var (
	// ErrInvalid: the call's input cannot make a request (bad base,
	// username, key, GUID …). Nothing was sent.
	ErrInvalid = errors.New("relayclient: invalid input")
	// ErrTooLarge: a request body, or one item of a hand-over or publish,
	// is over what the relay accepts. Nothing was sent.
	ErrTooLarge = errors.New("relayclient: request too large for the relay")
	// ErrBadAnswer: the relay answered success with something the client
	// cannot use (not the JSON it documents, an inbox page that
	// contradicts itself).
	ErrBadAnswer = errors.New("relayclient: unusable answer from the relay")
)

// APIError is an answer of the relay that is not a success. Status is the
// HTTP status; Code and Message come from the relay's JSON error envelope
// ({"code": status, "error": code, "message": text}; Code is its "error"
// member, e.g. "bad_invite", "taken", "bad_signature", "outbox_full").
// An answer without that envelope (a proxy's error page, a bare 404) has
// an empty Code and the start of its body as Message.
type APIError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is the relay's Retry-After (seconds or an HTTP date,
	// bounded to 24 hours); zero when it sent none.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := "relay answered " + strconv.Itoa(e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %v)", e.RetryAfter)
	}
	return s
}

// Retryable reports whether the same request may succeed later without
// anything changing on the device: 408, 425, 429 and 5xx, except 501 (the
// relay does not have the route) and 507 (a quota the user must free).
func (e *APIError) Retryable() bool {
	switch {
	case e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooEarly, e.Status == http.StatusTooManyRequests:
		return true
	case e.Status == http.StatusNotImplemented, e.Status == http.StatusInsufficientStorage:
		return false
	default:
		return e.Status >= 500 && e.Status <= 599
	}
}

// maxMessage bounds the Message taken from an answer.
const maxMessage = 512

func newAPIError(status int, h http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{Status: status, RetryAfter: retryAfter(h.Get("Retry-After"), now)}
	var env struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != "" {
		e.Code, e.Message = clipText(env.Error, 64), clipText(env.Message, maxMessage)
		return e
	}
	e.Message = clipText(strings.TrimSpace(string(body)), maxMessage)
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// clipText cuts s to at most n bytes on a rune boundary and drops what is
// not valid UTF-8, so a hostile answer cannot fill logs.
func clipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date
// (relative to now). Missing, garbled or past values are zero; values over
// maxRetryAfter are maxRetryAfter.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || n > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// transportError is a request that got no complete answer: the connection,
// TLS, a timeout, or the response body.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// IsRetryable reports whether err is worth trying again later: an APIError
// that is Retryable (5xx but 501 and 507, 429, 408, 425), or a transport
// failure (connection, TLS, timeout) — except an answer over the
// httpclient's body cap, which the same request gets again, and a call the
// caller cancelled. ErrInvalid, ErrTooLarge and every other answer (4xx) are
// final: sending the same request again gets the same refusal.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		return ae.Retryable()
	}
	if _, ok := errors.AsType[*transportError](err); ok {
		return !errors.Is(err, httpclient.ErrTooLarge) && !errors.Is(err, context.Canceled)
	}
	return false
}

// RetryAfter is the delay the relay asked for in err (an APIError's
// RetryAfter), or zero.
func RetryAfter(err error) time.Duration {
	if ae, ok := errors.AsType[*APIError](err); ok {
		return ae.RetryAfter
	}
	return 0
}

// clippedError keeps a transport error for errors.Is and errors.As but
// bounds its text: net/http quotes what the relay sent (a malformed header
// line, whole), and the engine shows its errors in the API and the logs.
type clippedError struct{ err error }

func (e clippedError) Error() string { return clipText(e.err.Error(), 300) }
func (e clippedError) Unwrap() error { return e.err }
