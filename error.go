package gatehouse

import (
	"errors"
	"fmt"
)

// Error codes are PostHog's own `code` values, so the HTTP layer can pass
// them through unchanged; the one table mapping them to statuses and error
// types lives in the http layer.
const (
	ENotAuthenticated     = "not_authenticated"
	EAuthenticationFailed = "authentication_failed"
	EPermissionDenied     = "permission_denied"
	ENotFound             = "not_found"
	ERequired             = "required"
	ENull                 = "null"
	EBlank                = "blank"
	EInvalid              = "invalid"
	EInvalidChoice        = "invalid_choice"
	EMaxLength            = "max_length"
	EUnique               = "unique"
	EDoesNotExist         = "does_not_exist"
	EInvalidInput         = "invalid_input"
	EMethodNotAllowed     = "method_not_allowed"
	EPaymentRequired      = "payment_required"
	EParseError           = "parse_error"
	ETooLarge             = "request_too_large"
	EThrottled            = "throttled"
	// EConflict: the request was authorized on access rules that changed before its
	// write committed (ErrStaleDecision); the server authorizes it again.
	EConflict = "conflict"
	// ESSOEnforced: a password for an email whose organization requires single
	// sign-on (PostHog's code for its SSO enforcement).
	ESSOEnforced = "sso_enforced"
	// EMisdirected: the request named a host this server does not answer
	// for (421; HTTP's own name, PostHog has no such answer).
	EMisdirected = "misdirected_request"
)

// Error is the one application error type. Anything that is not an *Error
// is an internal failure: a 500 with a generic detail, logged once.
type Error struct {
	Code   string
	Detail string
	Attr   string // the offending field, for validation errors
}

func (e *Error) Error() string {
	if e.Attr != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Detail, e.Attr)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Detail)
}

// Errorf returns an *Error with a formatted detail.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// FieldError returns a validation *Error naming the offending field.
func FieldError(code, attr, detail string) *Error {
	return &Error{Code: code, Detail: detail, Attr: attr}
}

// NotFound is the answer for anything unknown or in another tenant, so that
// existence never leaks across organizations.
func NotFound() *Error {
	return &Error{Code: ENotFound, Detail: "Not found."}
}

// ErrSignupClosed refuses a signup on an instance that is closed to it and has its first
// user already.
var ErrSignupClosed = &Error{Code: EPermissionDenied, Detail: "Signup is closed on this instance: ask an admin for an invite."}

// ErrorCode returns the code of an application error, or "" for any other error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
