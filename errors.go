package facet

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each names a class of failure that callers act on: the HTTP
// layer maps them to status codes, the CLI to exit codes, the queue handlers
// decide between "record and acknowledge" and "fail and let it redeliver".
const (
	EInvalid       = "invalid"           // malformed request: bad JSON, wrong type, unknown field
	EUnauthorized  = "unauthorized"      // missing or bad credentials
	ECodeRequired  = "code_required"     // right password, but the account's second factor's code is missing
	EForbidden     = "forbidden"         // the caller's role may not do this, or a change came without its CSRF token
	ENotFound      = "not_found"         // unknown id, or another client's id
	EConflict      = "conflict"          // the resource's state forbids the action
	EGone          = "gone"              // existed once, no longer usable
	ETooLarge      = "too_large"         // body or upload over its limit
	EUnprocessable = "unprocessable"     // well-formed but refused on substance
	EUnavailable   = "unavailable"       // a dependency failed; retrying may succeed
	ETooMany       = "too_many_requests" // a limit per client or per caller: retry after Error.RetryAfter
	EInternal      = "internal"          // a bug or an unexpected state

	// Video input failures: the recording itself is unusable. They are
	// final (retrying cannot help) and are stored as the recording's failure.
	EEmptyFile     = "empty_file"       // zero bytes
	ENotVideo      = "not_a_video"      // no container or codec ffprobe understands
	ENoVideoStream = "no_video_stream"  // a media file without pictures (audio only)
	EVideoTooLong  = "video_too_long"   // longer than the project's limit
	EUnreadable    = "video_unreadable" // truncated or corrupt data
	// ETimeout ends a run that was still queued or running at its
	// deadline (the sweep): a video that kills every worker opening it
	// must not stay "analyzing" for ever.
	ETimeout = "analysis_timeout"
)

// Error is the one error type of the domain. Code is machine-readable and
// stable; Message is safe to show to the client (it never holds personal
// data or internals); Err keeps the cause for logs.
type Error struct {
	Code    string
	Message string
	Err     error
	// RetryAfter says when a retry may succeed (ETooMany, EUnavailable);
	// zero when nobody can tell.
	RetryAfter time.Duration
}

// Errorf returns an *Error with a formatted message. A %w verb in format
// wraps the cause, as fmt.Errorf does.
func Errorf(code, format string, args ...any) *Error {
	e := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: e.Error(), Err: errors.Unwrap(e)}
}

func (e *Error) Error() string { return e.Message }

// Throttled returns an ETooMany error that says when to retry.
func Throttled(after time.Duration, format string, args ...any) *Error {
	e := Errorf(ETooMany, format, args...)
	e.RetryAfter = after
	return e
}

// RetryAfter returns the RetryAfter of the first *Error in err's chain.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the client-safe message of the first *Error in err's
// chain, or a generic text for other errors.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsBadVideo reports whether err says the video itself is unusable, so the
// failure is final and belongs to the recording rather than the system.
func IsBadVideo(err error) bool {
	switch ErrorCode(err) {
	case EEmptyFile, ENotVideo, ENoVideoStream, EVideoTooLong, EUnreadable:
		return true
	}
	return false
}
