package apiv1

import "fmt"

// Error is the API error envelope, {"code": 404, "message": "…"}, sent with
// the same HTTP status (API.md §1.3). It is also a Go error, so a use case
// can return one and pod/web can find it with errors.As.
//
// Message is for clients and must not leak internals; Err is the internal
// cause, for logs only, never marshalled.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	// Reason is the machine-readable "error" string of Seedpod's extension
	// API (API.md §6.1), e.g. "stale_revision". Set it only on responses
	// under /api/seedpod/v1; diaspora's v1 envelope has no such key.
	Reason string `json:"error,omitempty"`
	Err    error  `json:"-"`
}

// NewError returns an Error with a client-safe message.
func NewError(code int, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Error is for logs: status, message, reason and the internal cause.
func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s", e.Code, e.Message)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// invalid is the 422 that diaspora sends for every "wrong value" (it never
// sends 400, API.md §1.3).
func invalid(cause error, format string, args ...any) *Error {
	return &Error{Code: 422, Message: fmt.Sprintf(format, args...), Err: cause}
}
