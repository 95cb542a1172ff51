package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVersionFlag: -v is --version on every mattersync binary.
func TestVersionFlag(t *testing.T) {
	for _, flag := range []string{"-v", "--version"} {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs([]string{flag})
		if err := cmd.Execute(); err != nil || !strings.Contains(out.String(), "mattersync version "+version) {
			t.Errorf("mattersync %s: %v, printed %q", flag, err, out.String())
		}
	}
}
