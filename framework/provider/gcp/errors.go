package gcp

import (
	"errors"
	"fmt"
	"net/http"
)

// APIError is a call the API refused, with its HTTP status.
type APIError struct {
	Call string
	Code int
	err  error
}

func (e *APIError) Error() string { return fmt.Sprintf("gcp: %s: HTTP %d: %v", e.Call, e.Code, e.err) }
func (e *APIError) Unwrap() error { return e.err }

// OperationError is an operation that finished with an error.
type OperationError struct {
	Operation string
	Code      int // the operation's httpErrorStatusCode, 0 when it has none
	Message   string
	err       error
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("gcp: operation %s failed: %s", e.Operation, e.Message)
}
func (e *OperationError) Unwrap() error { return e.err }

func wrap(call string, err error) error {
	if code := httpCode(err); code != 0 {
		return &APIError{Call: call, Code: code, err: err}
	}
	return fmt.Errorf("gcp: %s: %w", call, err)
}

func hasCode(err error, code int) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code == code
	}
	var oe *OperationError
	if errors.As(err, &oe) && oe.Code == code {
		return true
	}
	return httpCode(err) == code
}

// IsNotFound reports a 404 from the API or an operation.
func IsNotFound(err error) bool { return hasCode(err, http.StatusNotFound) }

// IsConflict reports a 409 (the resource exists, or what it needs is taken).
func IsConflict(err error) bool { return hasCode(err, http.StatusConflict) }

// IsPreconditionFailed reports a 412 (a stale fingerprint).
func IsPreconditionFailed(err error) bool { return hasCode(err, http.StatusPreconditionFailed) }
