package main

import (
	"fmt"
	"html"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/internal/browser"
	"github.com/spf13/cobra"
)

// openStatusPage opens the running agent's status page in the browser,
// with a ticket good once and for two minutes (agent.StatusPageURL).
//
// The browser is started on a file in the data dir (0600) that forwards to
// the URL, not on the URL itself: a program's command line can be read by
// every user of a Linux machine (/proc/<pid>/cmdline), and on a terminal
// server another user could spend the ticket first. The file is readable
// by the user only.
func openStatusPage(cmd *cobra.Command, dataDir string) error {
	u, err := agent.StatusPageURL(cmd.Context(), dataDir)
	if err != nil {
		return err
	}
	fwd := filepath.Join(dataDir, "status-page.html")
	page := `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
		`<meta http-equiv="refresh" content="0;url=` + html.EscapeString(u) + `"><title>mattersync</title>` +
		`<a href="` + html.EscapeString(u) + `">Open the mattersync status page</a>`
	if err := agent.WriteFileAtomic(fwd, []byte(page), 0o600); err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	p := filepath.ToSlash(fwd)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/Users/... on Windows: file:///C:/Users/...
	}
	fileURL := (&url.URL{Scheme: "file", Path: p}).String()
	if err := browser.Open(fileURL); err != nil {
		fmt.Fprintf(cmd.OutOrStdout(), "No browser could be opened (%v). Open this address within two minutes; it works once:\n%s\n", err, u)
		return nil
	}
	fmt.Fprintln(cmd.OutOrStdout(), "The status page opens in your browser. If it does not, open this address within two minutes (it works once):")
	fmt.Fprintln(cmd.OutOrStdout(), u)
	return nil
}
