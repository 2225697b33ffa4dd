package pod

import (
	"database/sql"
	"errors"
)

// The kinds of refusal a use case returns, wrapped with what was refused
// and why (the message is meant for the user). pod/web maps them to HTTP
// statuses; each route picks the status diaspora* API v1 uses for it.
var (
	// ErrNoIdentity: the identity has not been created yet.
	ErrNoIdentity = errors.New("no identity yet")
	// ErrInvalid: the input is malformed or breaks a rule.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound: no such thing (or the user may not see it).
	ErrNotFound = errors.New("not found")
	// ErrConflict: it is already so (liked twice, voted twice, …).
	ErrConflict = errors.New("conflict")
	// ErrGone: undoing something that was not done (unlike without a like).
	ErrGone = errors.New("not there")
	// ErrForbidden: the user may not do this (delete another's post).
	ErrForbidden = errors.New("not allowed")
	// ErrUnavailable: another party (the relay, a remote pod) did not
	// answer as needed; trying again later may work.
	ErrUnavailable = errors.New("unavailable")
)

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
