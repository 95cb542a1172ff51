//go:build unix

package devstack

import (
	"strings"
	"testing"
)

func TestSecondStackIsRefusedUntilTheFirstStops(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDir(dir)
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second lock: %v, want an 'already running' error", err)
	}
	unlock()
	unlock2, err := lockDir(dir)
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	unlock2()
}
