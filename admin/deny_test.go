package admin

import (
	"errors"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/internal/fault"
)

// TestReissueIncomplete: a failed reissue step makes an otherwise
// successful operation incomplete; any other failure keeps its own kind.
func TestReissueIncomplete(t *testing.T) {
	step := reissueFailed{entity: "e-1", err: errDown}
	other := fault.Errorf(fault.NotFound, "no such matter")
	for _, tc := range []struct {
		name         string
		err, reissue error
		want         fault.Kind
	}{
		{"all done", nil, nil, fault.Other},
		{"reissue failed", nil, step, fault.Incomplete},
		{"other step failed too", other, step, fault.NotFound},
		{"user lookup failed", nil, other, fault.NotFound},
		{"only the other failed", other, nil, fault.NotFound},
	} {
		err := reissueIncomplete(tc.err, tc.reissue)
		if got := fault.Of(err); got != tc.want || (tc.want == fault.Other) != (err == nil) {
			t.Errorf("%s: %v, kind %v, want %v", tc.name, err, got, tc.want)
		}
	}
	err := reissueIncomplete(nil, step)
	if !strings.Contains(err.Error(), "mattersync-admin deny reissue e-1") || !errors.Is(err, errDown) {
		t.Errorf("incomplete reissue: %v", err)
	}
}
