package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mattersync/mattersync/internal/fault"
)

type ownError struct{ k fault.Kind }

func (e ownError) Error() string     { return "own" }
func (e ownError) Fault() fault.Kind { return e.k }

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want fault.Kind
	}{
		{"nil", nil, fault.Other},
		{"plain", errors.New("x"), fault.Other},
		{"own type", ownError{fault.NotFound}, fault.NotFound},
		{"wrapped", fmt.Errorf("op: %w", ownError{fault.Sealed}), fault.Sealed},
		{"Errorf", fault.Errorf(fault.Invalid, "bad %s", "x"), fault.Invalid},
		{"outermost wins", fault.Errorf(fault.Incomplete, "step: %w", ownError{fault.Unavailable}), fault.Incomplete},
		{"inner kind through plain wrapping", fmt.Errorf("a: %w", fmt.Errorf("b: %w", fault.Wrap(fault.Conflict, errors.New("c")))), fault.Conflict},
		{"joined", errors.Join(errors.New("x"), ownError{fault.Denied}), fault.Denied},
	} {
		if got := fault.Of(tc.err); got != tc.want {
			t.Errorf("%s: Of = %v, want %v", tc.name, got, tc.want)
		}
	}
	if fault.Wrap(fault.Invalid, nil) != nil {
		t.Errorf("Wrap(nil) is not nil")
	}
	e := fault.Errorf(fault.Refused, "held: %w", errors.ErrUnsupported)
	if e.Error() != "held: unsupported operation" || !errors.Is(e, errors.ErrUnsupported) {
		t.Errorf("Errorf: %q loses its message or cause", e)
	}
}

func TestKindStrings(t *testing.T) {
	seen := map[string]fault.Kind{}
	for k := fault.Other; k <= fault.Incomplete; k++ {
		s := k.String()
		if prev, dup := seen[s]; dup {
			t.Errorf("kinds %d and %d both print %q", prev, k, s)
		}
		seen[s] = k
	}
}
