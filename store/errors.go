package store

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotFound: no call, push or delivery with that id.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the item exists already.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: a field of the input is wrong (see FieldError).
	ErrInvalid = errors.New("invalid input")
	// ErrIllegalTransition: a push cannot move to the asked status (see TransitionError).
	ErrIllegalTransition = errors.New("illegal push transition")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrQueueFull: the database has been failing so long that the write buffer
	// is full; the call goes on, this version of its record is not kept.
	ErrQueueFull = errors.New("record write buffer full")
	// ErrUnhealthy: the database is failing (Healthy wraps it with details).
	ErrUnhealthy = errors.New("store unhealthy")
)

// FieldError names the input field that is wrong; errors.Is(err, ErrInvalid).
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

// Is makes FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// TransitionError is an illegal push move; errors.Is(err, ErrIllegalTransition).
type TransitionError struct {
	ID       string
	From, To PushStatus
	Why      string
}

func (e *TransitionError) Error() string {
	from := "(new)"
	if e.From != 0 {
		from = e.From.String()
	}
	return fmt.Sprintf("push %s: cannot move from %s to %s: %s", e.ID, from, e.To, e.Why)
}

// Is makes TransitionError match ErrIllegalTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// isUniqueViolation recognises a primary-key / unique clash on either database
// without importing driver internals.
func isUniqueViolation(err error) bool {
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}
