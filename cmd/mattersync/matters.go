package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/agent"
)

// newMattersCmd is selective sync: which of the user's matters are on
// this laptop (docs/AGENT.md, "Which matters are on this laptop").
func newMattersCmd(opts *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "matters [add|remove <matter>]",
		Short: "List your matters with their size and whether they are on this laptop; add or remove one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAgent(cmd, opts, func(a *agent.Agent) error {
				ms, err := a.MatterList(cmd.Context())
				if err != nil {
					return err
				}
				printMatters(cmd.OutOrStdout(), ms)
				return nil
			})
		},
	}
	for _, on := range []bool{true, false} {
		use, short := "add <matter>", "Sync a matter onto this laptop"
		if !on {
			use, short = "remove <matter>", "Take a matter off this laptop once every local change in it is uploaded"
		}
		cmd.AddCommand(&cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error { return chooseMatter(cmd, opts, args[0], on) },
		})
	}
	return cmd
}

// chooseMatter records the user's choice; a running agent acts on it
// (the command waits up to two minutes to say how it went), else the
// command syncs once itself.
func chooseMatter(cmd *cobra.Command, opts *options, matter string, on bool) error {
	cfg, err := agent.LoadConfig(opts.configPath)
	if err != nil {
		return err
	}
	var list []agent.MatterInfo
	err = withAgent(cmd, opts, func(a *agent.Agent) error {
		list, err = a.MatterList(cmd.Context())
		return err
	})
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(list, func(m agent.MatterInfo) bool { return m.ID == matter }) {
		return fmt.Errorf("no such matter among yours: %s (see `mattersync matters`)", matter)
	}
	if err := agent.ChooseMatter(cfg.DataDir, matter, on); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	ctx := cmd.Context()
	if _, err := agent.ReadStatus(ctx, cfg.DataDir); err != nil {
		// No agent running: do it now.
		return withAgent(cmd, opts, func(a *agent.Agent) error {
			_, err := a.SyncOnce(ctx)
			return reportChoice(out, a.Status(), matter, on, err)
		})
	}
	fmt.Fprintf(out, "asked the running agent to %s matter %s\n", map[bool]string{true: "add", false: "remove"}[on], matter)
	deadline := time.Now().Add(2 * time.Minute)
	var last agent.Status
	for time.Now().Before(deadline) {
		st, err := agent.ReadStatus(ctx, cfg.DataDir)
		if err == nil {
			last = st
			if done, _ := choiceDone(st, matter, on); done {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return reportChoice(out, last, matter, on, nil)
}

// choiceDone reports whether status shows the choice carried out, and the
// matter's entry.
func choiceDone(st agent.Status, matter string, on bool) (bool, agent.MatterStatus) {
	for _, m := range st.Matters {
		if m.ID != matter {
			continue
		}
		if on {
			return m.State == "idle" && !m.LastSync.IsZero(), m
		}
		return m.State == "unselected", m
	}
	return false, agent.MatterStatus{}
}

func reportChoice(w io.Writer, st agent.Status, matter string, on bool, syncErr error) error {
	done, m := choiceDone(st, matter, on)
	switch {
	case done && on:
		fmt.Fprintf(w, "matter %s is on this laptop: %s\n", matter, agent.SafeText(m.Folder))
		return nil
	case done:
		fmt.Fprintf(w, "matter %s removed from this laptop (every local change was uploaded first)\n", matter)
		return nil
	}
	for _, e := range m.Errors {
		fmt.Fprintln(w, "  "+agent.SafeText(e))
	}
	if syncErr != nil {
		return fmt.Errorf("matter %s: %w", matter, syncErr)
	}
	if on {
		return fmt.Errorf("matter %s is not synced onto this laptop yet; mattersync keeps trying (see `mattersync status`)", matter)
	}
	return fmt.Errorf("matter %s is not removed yet: its folder is deleted only once every local change in it is uploaded; mattersync keeps trying (see `mattersync status`)", matter)
}

func printMatters(w io.Writer, ms []agent.MatterInfo) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MATTER\tNAME\tROLE\tON THIS LAPTOP\tFILES\tSIZE")
	for _, m := range ms {
		here := "no"
		switch {
		case m.Here && !m.Selected:
			here = "yes (removing: uploads first)"
		case m.Here:
			here = "yes"
		case m.Selected:
			here = "not yet (added)"
		}
		size, files := "-", "-"
		if m.Here {
			size, files = agent.ByteSize(m.Bytes).String(), fmt.Sprint(m.Files)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", agent.SafeText(m.ID), agent.SafeText(m.Name), m.Role, here, files, size)
	}
	tw.Flush()
}
