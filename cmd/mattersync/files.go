package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/agent/index"
	"github.com/spf13/cobra"
)

func newConflictsCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "conflicts",
		Short: "List the conflict copies the agent made",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agent.LoadConfig(opts.configPath)
			if err != nil {
				return err
			}
			idx, err := index.Open(cmd.Context(), filepath.Join(cfg.DataDir, "index.db"))
			if err != nil {
				return err
			}
			defer idx.Close()
			cs, err := idx.Conflicts(cmd.Context())
			if err != nil {
				return err
			}
			if len(cs) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no conflict copies")
				return nil
			}
			return printConflicts(cmd.OutOrStdout(), cs)
		},
	}
}

func newVersionsCmd(opts *options) *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "versions <path> | versions --at <date> <folder>",
		Short: "List the stored versions of a file, or a folder's files as they were at a date",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			when, err := agent.ParseWhen(at)
			if err != nil {
				return err
			}
			return withAgent(cmd, opts, func(a *agent.Agent) error {
				if at != "" {
					view, err := a.FolderAtPath(cmd.Context(), args[0], when)
					if err != nil {
						return err
					}
					return printFolder(cmd.OutOrStdout(), view)
				}
				vs, err := a.Versions(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printVersions(cmd.OutOrStdout(), vs)
			})
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "list the folder's files as they were then: 2026-12-01 (the end of that day) or \"2026-12-01 17:30\"")
	return cmd
}

func newRestoreCmd(opts *options) *cobra.Command {
	var version int64
	var at string
	cmd := &cobra.Command{
		Use:   "restore <path> --version N | restore --at <date> <folder>",
		Short: "Bring back an old version of a file, or a folder as it was at a date, as the newest versions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if at != "" {
				if version != 0 {
					return fmt.Errorf("give --version (one file) or --at (a folder), not both")
				}
				when, err := agent.ParseWhen(at)
				if err != nil {
					return err
				}
				if done, err := throughAgent(opts, func(dataDir string) error {
					out, err := agent.RestoreFolderThroughAgent(cmd.Context(), dataDir, args[0], when)
					if !errors.Is(err, agent.ErrAgentNotRunning) {
						printFolderRestore(cmd.OutOrStdout(), out, when)
					}
					return err
				}); done {
					return err
				}
				return withAgent(cmd, opts, func(a *agent.Agent) error {
					out, err := a.RestoreFolderAtPath(cmd.Context(), args[0], when)
					printFolderRestore(cmd.OutOrStdout(), out, when)
					return err
				})
			}
			if version < 1 {
				return fmt.Errorf("--version must name a version (see `mattersync versions %s`)", args[0])
			}
			if done, err := throughAgent(opts, func(dataDir string) error {
				v, err := agent.RestoreThroughAgent(cmd.Context(), dataDir, args[0], version)
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "restored version %d of %s as version %d\n", version, args[0], v)
				}
				return err
			}); done {
				return err
			}
			return withAgent(cmd, opts, func(a *agent.Agent) error {
				v, err := a.Restore(cmd.Context(), args[0], version)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "restored version %d of %s as version %d\n", version, args[0], v)
				return nil
			})
		},
	}
	cmd.Flags().Int64Var(&version, "version", 0, "version to restore")
	cmd.Flags().StringVar(&at, "at", "", "restore every file of the folder changed or deleted since then: 2026-12-01 (the end of that day) or \"2026-12-01 17:30\"")
	return cmd
}

// throughAgent runs f, which asks the running agent to do a restore: the
// agent is the one process that writes the matter folders, so a restore
// beside it must go through it. done is false when no agent runs (the
// command then does the work itself).
func throughAgent(opts *options, f func(dataDir string) error) (done bool, err error) {
	cfg, err := agent.LoadConfig(opts.configPath)
	if err != nil {
		return true, err
	}
	err = f(cfg.DataDir)
	if errors.Is(err, agent.ErrAgentNotRunning) {
		return false, nil
	}
	return true, err
}

func withAgent(cmd *cobra.Command, opts *options, f func(*agent.Agent) error) error {
	a, err := openAgent(cmd.Context(), opts, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer a.Close()
	return f(a)
}

// printConflicts lists conflict copies. Paths and reasons carry names from
// other members' manifests: never raw to the terminal.
func printConflicts(w io.Writer, cs []index.Conflict) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tMATTER\tFILE\tCOPY\tWHY")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Created.Local().Format("2006-01-02 15:04"), agent.SafeText(c.Matter),
			agent.SafeText(c.Path), agent.SafeText(c.Copy), agent.SafeText(c.Reason))
	}
	return tw.Flush()
}

// printVersions lists a file's versions. Device and author are whatever
// the writer sealed (Versions already escapes them; this is the last line).
// A manifest names its author by Vault entity ID only; the gateway records
// the committer's user name from the token, shown when it agrees with the
// sealed entity (agent.VersionInfo.Name): "you", a colleague's name, or
// the ID for versions committed before names were recorded.
func printVersions(w io.Writer, vs []agent.VersionInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCOMMITTED\tSIZE\tDEVICE\tAUTHOR")
	for _, v := range vs {
		if v.Deleted {
			fmt.Fprintf(tw, "%d\t%s\tdeleted\t\t%s\n", v.Version, v.Time.Local().Format("2006-01-02 15:04:05"), agent.SafeText(v.Name))
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", v.Version, v.Time.Local().Format("2006-01-02 15:04:05"), v.Size, agent.SafeText(v.Device), agent.SafeText(v.Name))
	}
	return tw.Flush()
}

// printFolder lists a folder's files as they were at a date. Paths, names
// and devices come from manifests: never raw to the terminal.
func printFolder(w io.Writer, v agent.FolderView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tVERSION\tSAVED\tSIZE\tBY\tNOW")
	for _, e := range v.Files {
		size, now := fmt.Sprint(e.Size), "same"
		if e.Deleted {
			size = "deleted"
		}
		switch {
		case !e.Changed():
		case e.HeadDeleted:
			now = fmt.Sprintf("deleted (version %d)", e.Head)
		default:
			now = fmt.Sprintf("changed (version %d)", e.Head)
		}
		by := e.Name
		if e.Device != "" {
			by += " on " + e.Device
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", agent.SafeText(e.Path), e.Version, e.Time.Local().Format("2006-01-02 15:04:05"), size, agent.SafeText(by), now)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Later) > 0 {
		fmt.Fprintf(w, "%d files made since then are not listed\n", len(v.Later))
	}
	return nil
}

// printFolderRestore says what a folder restore did.
func printFolderRestore(w io.Writer, out agent.FolderRestore, at time.Time) {
	for _, r := range out.Restored {
		fmt.Fprintln(w, "restored", r)
	}
	for _, f := range out.Failed {
		fmt.Fprintln(w, "NOT restored", f)
	}
	fmt.Fprintf(w, "%d files restored as they were on %s, %d unchanged", len(out.Restored), at.Local().Format("2006-01-02 15:04"), out.Unchanged)
	if len(out.Left) > 0 {
		fmt.Fprintf(w, ", %d made since left alone (a restore never deletes)", len(out.Left))
	}
	fmt.Fprintln(w)
}
