package verify

import "fmt"

// Class is why a token was refused, as the shared verification vectors name it.
type Class string

// The failure classes shared by the Java, Go and Rust verifiers.
const (
	OK            Class = "ok"
	Malformed     Class = "malformed"
	BadAlgorithm  Class = "bad_algorithm"
	UnknownKey    Class = "unknown_key"
	BadSignature  Class = "bad_signature"
	WrongIssuer   Class = "wrong_issuer"
	WrongAudience Class = "wrong_audience"
	Expired       Class = "expired"
	NotYetValid   Class = "not_yet_valid"
	MissingScope  Class = "missing_scope"
	CnfMismatch   Class = "cnf_mismatch"
	Revoked       Class = "revoked"
	// RevocationsNotLoaded: the revocations in force have not been loaded once yet (the verifier has
	// just started), so the token cannot be checked against them; retrying shortly may succeed.
	RevocationsNotLoaded Class = "revocations_not_loaded"
)

// Error is a refused token: its class and a reason a person can act on. It never holds the token.
type Error struct {
	Class  Class
	Reason string
	cause  error
}

func (e *Error) Error() string { return fmt.Sprintf("token refused (%s): %s", e.Class, e.Reason) }

// Unwrap returns the underlying cause, for example a JWKS fetch failure.
func (e *Error) Unwrap() error { return e.cause }

// Unauthenticated reports whether the class means "who is calling is not established" (answer
// UNAUTHENTICATED), as opposed to "the caller is known but not allowed" (PERMISSION_DENIED:
// missing scope, revoked). RevocationsNotLoaded is neither: the caller may retry (UNAVAILABLE).
func (c Class) Unauthenticated() bool {
	return c != MissingScope && c != Revoked && c != RevocationsNotLoaded && c != OK
}

func refuse(class Class, format string, args ...any) *Error {
	return &Error{Class: class, Reason: fmt.Sprintf(format, args...)}
}
