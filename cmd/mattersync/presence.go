package main

import (
	"fmt"
	"io"

	"github.com/mattersync/mattersync/agent"
)

// printOpen prints the documents open in an editor, elsewhere or here:
// "2026-0001: Brief.docx: open by alice on LAPTOP-7 since 10:42 (read-only
// here until it is closed)".
func printOpen(w io.Writer, open []agent.OpenFile) {
	for _, o := range open {
		fmt.Fprintf(w, "  %s: %s\n", agent.SafeText(o.Matter), o.Sentence())
	}
}
