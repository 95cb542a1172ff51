package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/agent/index"
)

// hostileName holds what a member can seal as author or device, or put in
// a path: an OSC title change, a screen clear, a C1 CSI and a right-to-left
// override.
const hostileName = "LAPTOP\x1b]0;you are hacked\x07\x1b[2J\u009b31m\u202eexe.docx"

// noEscapes fails if out could drive the terminal.
func noEscapes(t *testing.T, what, out string) {
	t.Helper()
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s prints %q raw:\n%q", what, bad, out)
		}
	}
	if !strings.Contains(out, `\x1b]0;you are hacked`) {
		t.Errorf("%s hides the name instead of showing it escaped:\n%q", what, out)
	}
}

func TestOutputEscapesHostileNames(t *testing.T) {
	var b bytes.Buffer
	if err := printVersions(&b, []agent.VersionInfo{{Version: 2, Time: time.Now(), Size: 9, Name: hostileName, Device: hostileName}, {Version: 1, Deleted: true, Name: hostileName}}); err != nil {
		t.Fatal(err)
	}
	noEscapes(t, "versions", b.String())
	b.Reset()
	if err := printConflicts(&b, []index.Conflict{{Matter: "2026-0001", Path: "Brief.docx", Copy: "Brief (conflict).docx", Reason: "edited here while " + hostileName + " changed it", Created: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	noEscapes(t, "conflicts", b.String())
	b.Reset()
	printStatus(&b, agent.Status{State: "idle", User: "alice", Device: "LAPTOP-7", Matters: []agent.MatterStatus{
		{ID: "2026-0001", State: "error", Folder: "Demo [2026-0001]", Errors: []string{"remote version 3 of " + hostileName + " not applied"}}}})
	noEscapes(t, "status", b.String())
}
