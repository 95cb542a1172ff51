package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
)

func TestStatusShowsOpenDocuments(t *testing.T) {
	since := time.Now().Truncate(time.Minute)
	var b strings.Builder
	printStatus(&b, agent.Status{State: "idle", User: "bob", Device: "DESKTOP-2", Open: []agent.OpenFile{
		{Matter: "2026-0001", Path: "Pleadings/Brief.docx", User: "Alice Smith", Device: "LAPTOP-7", Since: since, ReadOnly: true},
		{Matter: "2026-0001", Path: "Notes.docx", User: "bob", Device: "DESKTOP-2", Since: since, Mine: true},
		{Matter: "2026-0001", Path: "x.docx", User: "evil\x1b[2J", Device: "D", Since: since},
	}})
	out := b.String()
	for _, want := range []string{
		"2026-0001: Pleadings/Brief.docx: open by Alice Smith on LAPTOP-7 since " + since.Local().Format("15:04") + " (read-only here until it is closed)",
		"2026-0001: Notes.docx: open here",
		`open by evil\x1b[2J on D`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not say %q:\n%s", want, out)
		}
	}
}
