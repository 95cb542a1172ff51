package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/agent"
)

func TestPrintStatus(t *testing.T) {
	s := agent.Status{State: "syncing", User: "alice", Device: "LAPTOP-7", Notices: []string{"Notes.txt is directly in Matters and is not synced"}, Matters: []agent.MatterStatus{
		{ID: "2026-0001", Role: "rw", State: "syncing", Folder: "Demo [2026-0001]", FilesDone: 10, FilesTotal: 40, Errors: []string{"Brief.docx: read-only"}},
		{ID: "2026-0002", Role: "ro", State: "idle", Folder: "Other [2026-0002]"},
	}}
	var b bytes.Buffer
	printStatus(&b, s)
	out := b.String()
	for _, want := range []string{"agent: syncing as alice on LAPTOP-7", "2026-0001  rw", "[#######.......................] 10/40 files", "2026-0001: Brief.docx: read-only", "never", "  Notes.txt is directly in Matters and is not synced"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "files") != 1 {
		t.Errorf("a progress bar for an idle matter:\n%s", out)
	}
	if got := progressBar(50, 40, 10, "files"); got != "[##########] 40/40 files" {
		t.Errorf("progressBar past the end = %q", got)
	}
	if strings.Contains(out, "another program") {
		t.Errorf("a port notice with the configured port free:\n%s", out)
	}
}

// A configured status port held by another program is said, with the
// advice not to use links to it.
func TestPrintStatusPortTaken(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, agent.Status{State: "idle", PortTaken: "127.0.0.1:7443"})
	if out := b.String(); !strings.Contains(out, "127.0.0.1:7443 belongs to another program") || !strings.Contains(out, "Do not use bookmarks or links to 127.0.0.1:7443") {
		t.Errorf("status with the port taken:\n%s", out)
	}
}
