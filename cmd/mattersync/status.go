package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/spf13/cobra"
)

func newStatusCmd(opts *options) *cobra.Command {
	var asJSON, watch, open bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the running agent is doing, per matter",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agent.LoadConfig(opts.configPath)
			if err != nil {
				return err
			}
			if open {
				return openStatusPage(cmd, cfg.DataDir)
			}
			for {
				s, err := agent.ReadStatus(cmd.Context(), cfg.DataDir)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(s)
				}
				printStatus(out, s)
				if !watch || !syncing(s) {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(time.Second):
				}
				fmt.Fprintln(out)
			}
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "refresh every second while a sync runs (progress bars)")
	cmd.Flags().BoolVar(&open, "open", false, "open the status page in the browser (conflicts, restores, a folder as it was at a date)")
	return cmd
}

func syncing(s agent.Status) bool {
	for _, m := range s.Matters {
		if m.State == "syncing" {
			return true
		}
	}
	return false
}

// printStatus prints s for a terminal. Every text field can hold names from
// manifests or error messages quoting them, so each goes through SafeText.
func printStatus(w io.Writer, s agent.Status) {
	safe := agent.SafeText
	fmt.Fprintf(w, "agent: %s", safe(s.State))
	if s.User != "" {
		fmt.Fprintf(w, " as %s on %s", safe(s.User), safe(s.Device))
	}
	fmt.Fprintln(w)
	if s.DiskEncryption != "" {
		fmt.Fprintf(w, "  disk encryption: %s\n", safe(s.DiskEncryption))
	}
	if s.Message != "" {
		fmt.Fprintln(w, "  "+safe(s.Message))
	}
	for _, n := range s.Notices {
		fmt.Fprintln(w, "  "+safe(n))
	}
	if n := s.PortTakenNotice(); n != "" {
		fmt.Fprintln(w, "  "+safe(n))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MATTER\tROLE\tSTATE\tQUEUE\tCONFLICTS\tLAST SYNC\tFOLDER")
	for _, m := range s.Matters {
		last := "never"
		if !m.LastSync.IsZero() {
			last = m.LastSync.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", safe(m.ID), safe(m.Role), safe(m.State), m.Queue, m.Conflicts, last, safe(m.Folder))
	}
	tw.Flush()
	for _, m := range s.Matters {
		if m.State == "syncing" && m.FilesTotal > 0 {
			unit := "files"
			if m.ProgressOf == "changes" {
				unit = "changes downloaded"
			}
			fmt.Fprintf(w, "  %s %s\n", safe(m.ID), progressBar(m.FilesDone, m.FilesTotal, 30, unit))
		}
		for _, e := range m.Errors {
			fmt.Fprintf(w, "  %s: %s\n", safe(m.ID), safe(e))
		}
	}
	printOpen(w, s.Open)
}

// progressBar renders "[#####.....] 12/40 files".
func progressBar(done, total, width int, unit string) string {
	done = min(done, total)
	n := width * done / max(total, 1)
	return fmt.Sprintf("[%s%s] %d/%d %s", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, unit)
}
