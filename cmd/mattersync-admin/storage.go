package main

// The lifecycle commands: a matter's retention policy and storage usage
// (under `matter`), and runs of purge and garbage collection (`storage`).

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/gateway/api"
)

func matterRetentionCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "retention", Short: "a matter's retention: how long superseded versions and deleted files are kept"}
	show := &cobra.Command{
		Use:   "show <matter>",
		Short: "the retention policy that applies to a matter (its own, or the firm's)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			r, err := s.Retention(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printRetention(a, r)
			return nil
		}),
	}
	var versionsDays, minVersions, deletedDays int
	var reason string
	set := &cobra.Command{
		Use:   "set <matter> [--versions-days N] [--min-versions N] [--deleted-days N] --reason <why>",
		Short: "give a matter its own retention policy (flags left out keep what applies now)",
		Long: `Superseded versions are kept --versions-days days after they were superseded,
the newest --min-versions versions of every file whatever their age (at least 1:
the current one), and a deleted file --deleted-days days after its deletion.
Purge runs by itself on the gateway's schedule (or now: storage gc --now); a
matter on legal hold is never purged. The change is audited with your name and
the reason.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			var req api.RetentionRequest
			for _, f := range []struct {
				flag string
				v    *int
				dst  **int
			}{{"versions-days", &versionsDays, &req.VersionsDays}, {"min-versions", &minVersions, &req.MinVersions}, {"deleted-days", &deletedDays, &req.DeletedDays}} {
				if cmd.Flags().Changed(f.flag) {
					*f.dst = f.v
				}
			}
			if req.VersionsDays == nil && req.MinVersions == nil && req.DeletedDays == nil {
				return usage(errors.New("give at least one of --versions-days, --min-versions, --deleted-days"))
			}
			if strings.TrimSpace(reason) == "" {
				return usage(errors.New("--reason is required (who asked, or which rule applies)"))
			}
			req.Reason = reason
			r, err := s.SetRetention(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			printRetention(a, r)
			return nil
		}),
	}
	set.Flags().IntVar(&versionsDays, "versions-days", 0, "days a superseded version is kept (0: purged at the next run)")
	set.Flags().IntVar(&minVersions, "min-versions", 0, "versions of every file always kept, whatever their age (at least 1)")
	set.Flags().IntVar(&deletedDays, "deleted-days", 0, "days a deleted file stays restorable")
	set.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the audit log)")
	var clearReason string
	clearCmd := &cobra.Command{
		Use:   "clear <matter> --reason <why>",
		Short: "return a matter to the firm's retention policy (the gateway config's)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if strings.TrimSpace(clearReason) == "" {
				return usage(errors.New("--reason is required (who asked, or which rule applies)"))
			}
			r, err := s.ClearRetention(cmd.Context(), args[0], clearReason)
			if err != nil {
				return err
			}
			printRetention(a, r)
			return nil
		}),
	}
	clearCmd.Flags().StringVar(&clearReason, "reason", "", "why (required; recorded in the audit log)")
	cmd.AddCommand(show, set, clearCmd)
	return cmd
}

func printRetention(a *app, r api.Retention) {
	a.printf("matter %s: superseded versions kept %d days, the newest %d versions of every file always, deleted files %d days\n",
		r.Matter, r.VersionsDays, r.MinVersions, r.DeletedDays)
	if r.Source == api.RetentionMatter {
		a.printf("  the matter's own policy, set %s by %s: %s\n", r.Time.UTC().Format(time.RFC3339), r.SetBy, r.Reason)
	} else {
		a.printf("  the firm's policy (gateway config lifecycle.retention)\n")
	}
	if r.Hold {
		a.printf("  ON LEGAL HOLD: nothing is purged while the hold lasts\n")
	}
}

func matterUsageCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "usage <matter>",
		Short: "a matter's bytes in the bucket: live, old versions, garbage, queued for deletion, under hold",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			u, err := s.MatterStorage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(u)
			}
			w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(w, "matter %s\tobjects\tbytes\t\n", u.Matter)
			fmt.Fprintf(w, "live (current versions)\t%d\t%d\t\n", u.LiveObjects, u.LiveBytes)
			fmt.Fprintf(w, "old versions and deleted files\t%d\t%d\t\n", u.OldObjects, u.OldBytes)
			fmt.Fprintf(w, "garbage awaiting collection\t%d\t%d\t\n", u.GarbageObjects, u.GarbageBytes)
			fmt.Fprintf(w, "queued for deletion\t%d\t%d\t\n", u.QueuedObjects, u.QueuedBytes)
			fmt.Fprintf(w, "under legal hold\t%d\t\t\n", u.HeldObjects)
			return w.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func storageCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "storage", Short: "purge and garbage collection at the gateway (they also run by themselves)"}
	var dry, now, asJSON bool
	var matter string
	gc := &cobra.Command{
		Use:   "gc --dry-run|--now [--matter <matter>]",
		Short: "purge what retention no longer keeps, collect garbage and delete it from the bucket",
		Long: `Runs, at the gateway, what its schedule runs: versions and deleted files past
their matter's retention are purged, chunks no kept version references and
objects no record names are collected once older than the grace period
(gateway config lifecycle.grace), and their objects are deleted from the
bucket. Matters on legal hold are skipped. --dry-run counts what would go and
changes nothing. Progress is shown as the gateway reports it; the summary says
what was reclaimed. Every change is audited as a system action.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dry == now {
				return usage(errors.New("say --dry-run (count only) or --now (remove)"))
			}
			named := func([]string) bool { return matter != "" }
			return withGatewayVault(a, named, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
				run, err := s.CollectGarbage(cmd.Context(), api.RunRequest{Matter: matter, DryRun: dry}, admin.RunOptions{})
				if run.Summary != nil {
					if asJSON {
						json.NewEncoder(a.stdout).Encode(run)
					} else {
						printSummary(a, run)
					}
				}
				return err
			})(cmd, args)
		},
	}
	gc.Flags().BoolVar(&dry, "dry-run", false, "count what would be removed; change nothing")
	gc.Flags().BoolVar(&now, "now", false, "remove it now")
	gc.Flags().StringVar(&matter, "matter", "", "one matter only")
	gc.Flags().BoolVar(&asJSON, "json", false, "print the finished run as JSON")
	var limit int
	runs := &cobra.Command{
		Use:   "runs",
		Short: "the latest runs (scheduled and asked for): state, progress, what they removed",
		Args:  args(cobra.NoArgs),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			rs, err := s.StorageRuns(cmd.Context(), limit)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "RUN\tREQUESTED\tBY\tMATTER\tDRY\tSTATE\tRESULT")
			for _, r := range rs {
				by, m := r.RequestedBy, r.Matter
				if by == "" {
					by = "(schedule)"
				}
				if m == "" {
					m = "(all)"
				}
				result := r.Progress
				if r.Summary != nil {
					result = summaryLine(*r.Summary)
				}
				if r.Error != "" {
					result = r.Error
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%v\t%s\t%s\n", r.ID, r.Requested.UTC().Format(time.RFC3339), by, m, r.DryRun, r.State, result)
			}
			return w.Flush()
		}),
	}
	runs.Flags().IntVar(&limit, "limit", 20, "how many")
	cmd.AddCommand(gc, runs)
	return cmd
}

// summaryLine is a run's result in one line.
func summaryLine(s api.RunSummary) string {
	return fmt.Sprintf("purged %d versions (%d deleted files), collected %d chunks, %d orphans; deleted %d objects (%s)",
		s.PurgedVersions, s.PurgedFiles, s.CollectedChunks, s.Orphans, s.Deleted, bytesText(s.DeletedBytes))
}

func printSummary(a *app, run api.Run) {
	s := run.Summary
	what := "removed"
	if run.DryRun {
		what = "would remove (dry run: nothing changed)"
	}
	a.printf("run %d %s, %d matters, %.1f s:\n", run.ID, what, s.Matters, s.Seconds)
	a.printf("  purged:    %d superseded versions (%d tombstones), %d deleted files, %s of manifests\n", s.PurgedVersions, s.PurgedTombstones, s.PurgedFiles, bytesText(s.PurgedBytes))
	a.printf("  collected: %d chunks, %d objects, %s\n", s.CollectedChunks, s.CollectedObjects, bytesText(s.CollectedBytes))
	a.printf("  orphans:   %d objects no record names, %s\n", s.Orphans, bytesText(s.OrphanBytes))
	if !run.DryRun {
		a.printf("  reclaimed: %d objects deleted from the bucket, %s\n", s.Deleted, bytesText(s.DeletedBytes))
	}
	if s.Refused > 0 {
		a.printf("  kept:      %d objects the legal hold keeps (the storage refused their deletion)\n", s.Refused)
	}
	if s.Failed > 0 || s.Queued > 0 {
		a.printf("  pending:   %d objects (%s) still to delete; %d deletions failed and are tried again by the next run\n", s.Queued, bytesText(s.QueuedBytes), s.Failed)
	}
	if len(s.Held) > 0 {
		a.printf("  skipped (legal hold): %s\n", strings.Join(s.Held, ", "))
	}
	for _, e := range s.Errors {
		a.printf("  PROBLEM: %s\n", e)
	}
}

// bytesText renders n bytes for people.
func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
