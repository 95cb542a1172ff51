package main

// Reports for a compliance officer: who could open a matter at a time
// (from the membership history).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/kms"
)

func reportCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "reports for compliance, with file names: access, matter, incident, access-review, who-could-open"}
	cmd.AddCommand(reportWhoCouldOpenCmd(a),
		reportTableCmd(a, "access", "access --user U --from T [--until T]", "breach scoping: every request of a user in a period, with file names"),
		reportTableCmd(a, "matter", "matter <matter> --from T [--until T]", "who touched what in a matter, with file names"),
		reportTableCmd(a, "incident", "incident --user U --from T [--until T]", "for a breach notification: per client matter, every file a user read, wrote or deleted, first and last time"),
		reportTableCmd(a, "access-review", "access-review [--matter M] [--from T]", "per matter: members, role, last access, grants never used (least-privilege review)"),
		reportOfficerCmd(a))
	return cmd
}

// reportTableCmd is one of the table reports.
func reportTableCmd(a *app, kind, use, short string) *cobra.Command {
	var user, matter, from, until, formatName, out string
	var noNames bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

File names are resolved on this machine: the gateway hands out the sealed
manifests (audited as admin.file.get) and your Vault login unwraps the
matter's keys, which needs the compliance policy (report officer add <you>;
every unwrap is in Vault's audit log). Without it, or with --no-names, the
report shows object IDs and says why. Every report carries the audit chain's
status (the gateway verifies it first). Formats: csv (a "#" preamble, then
a header and rows), jsonl (a first line describing the report, then one
object per row, then {"end":true}), pdf. Times are RFC 3339, YYYY-MM-DD or
an age such as 90d; --until is exclusive.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if kind == "matter" {
				if len(args) != 1 {
					return usage(errors.New("name the matter: report matter <matter> --from T"))
				}
				matter = args[0]
			} else if len(args) > 0 {
				return usage(fmt.Errorf("report %s takes no argument", kind))
			}
			if (kind == "access" || kind == "incident") && user == "" {
				return usage(errors.New("--user is required"))
			}
			now := time.Now()
			if from == "" {
				if kind != "access-review" {
					return usage(errors.New("--from is required (e.g. --from 90d)"))
				}
				from = "90d"
			}
			f, err := parseWhen(from, now)
			if err != nil {
				return err
			}
			u, err := parseWhen(until, now)
			if err != nil {
				return err
			}
			format := admin.ReportFormat(formatName)
			if format != admin.ReportCSV && format != admin.ReportJSONL && format != admin.ReportPDF {
				return usage(fmt.Errorf("--format %q: use csv, jsonl or pdf", formatName))
			}
			if format == admin.ReportPDF && (out == "" || out == "-") {
				return usage(errors.New("--format pdf needs --out <file>"))
			}
			o := admin.ReportOptions{User: user, Matter: matter, From: f, Until: u, Names: !noNames}
			var t admin.Table
			switch kind {
			case "access":
				t, err = s.AccessReport(cmd.Context(), o)
			case "matter":
				t, err = s.MatterReport(cmd.Context(), o)
			case "incident":
				t, err = s.IncidentReport(cmd.Context(), o)
			default:
				t, err = s.AccessReview(cmd.Context(), o)
			}
			if err != nil {
				return err
			}
			w := a.stdout
			if out != "" && out != "-" {
				fh, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return usage(err)
				}
				defer fh.Close()
				w = fh
			}
			if err := admin.WriteReport(w, t, format); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%s: %d rows; audit chain %s\n", t.Title, len(t.Rows), t.Chain)
			if !t.Chain.OK {
				fmt.Fprintf(a.stderr, "WARNING the audit chain is not intact: the report says so on every page; run `mattersync-admin audit verify`\n")
			}
			return nil
		}),
	}
	if kind == "access" || kind == "incident" {
		cmd.Flags().StringVar(&user, "user", "", "the user (Vault user name)")
	}
	if kind == "access-review" {
		cmd.Flags().StringVar(&matter, "matter", "", "only this matter (default: every live matter)")
	}
	cmd.Flags().StringVar(&from, "from", "", "from this time (RFC 3339, YYYY-MM-DD, or an age like 90d)")
	cmd.Flags().StringVar(&until, "until", "", "until this time, exclusive (default now)")
	cmd.Flags().StringVar(&formatName, "format", "csv", "csv, jsonl or pdf")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to this file (mode 0600) instead of stdout")
	cmd.Flags().BoolVar(&noNames, "no-names", false, "do not resolve file names (object IDs only)")
	return cmd
}

// reportOfficerCmd manages the compliance officers, whose Vault login may
// unwrap matter keys to name files in reports.
func reportOfficerCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "officer", Short: "compliance officers: whose reports may name files (Vault policy <name>-compliance)"}
	setup := &cobra.Command{
		Use:   "setup",
		Short: "create the compliance policy and the group mattersync-compliance (bootstrap token)",
		Args:  args(cobra.NoArgs),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			_, err := s.Vault.SetupCompliance(cmd.Context(), func(st kms.Step) { a.progress(admin.Step{Name: st.Name, Detail: st.Detail, Err: st.Err}) })
			return err
		}),
	}
	set := func(on bool) *cobra.Command {
		use, short := "add <user>", "make a user a compliance officer"
		if !on {
			use, short = "remove <user>", "take a user's compliance role away"
		}
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  args(cobra.ExactArgs(1)),
			RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
				changed, err := s.Vault.SetCompliance(cmd.Context(), args[0], on)
				if err != nil {
					return err
				}
				state := map[bool]string{true: "is a compliance officer", false: "is not a compliance officer"}[on]
				if !changed {
					state += " (unchanged)"
				}
				a.printf("%s %s\n", args[0], state)
				return nil
			}),
		}
	}
	cmd.AddCommand(setup, set(true), set(false))
	return cmd
}

func reportWhoCouldOpenCmd(a *app) *cobra.Command {
	var at string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "who-could-open <matter> --at <time>",
		Short: "who could open a matter at a time, from the membership history",
		Long: `Answers from the membership history the gateway keeps (membership
history, membership sync): every user in the matter's rw or ro group at that
time, not screened and not revoked, and everyone else in its groups then
(screened, revoked), each with the change that put them there: when, by whom,
why, and whether it was made with mattersync-admin, found in Vault by a sync,
or part of the baseline when the history began. Times are RFC 3339,
YYYY-MM-DD (UTC midnight) or an age such as 90d.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if at == "" {
				return usage(errors.New("--at is required (e.g. --at 2026-11-01T09:00:00Z)"))
			}
			when, err := parseWhen(at, time.Now())
			if err != nil {
				return err
			}
			res, err := s.WhoCouldOpen(cmd.Context(), args[0], when)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(res)
			}
			a.printf("who could open %s at %s (membership history since %s)\n", res.Matter, res.At.UTC().Format(time.RFC3339), res.HistoryStart.UTC().Format(time.RFC3339))
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tCOULD OPEN\tROLES\tSINCE\tSOURCE\tBY\tREASON")
			for _, h := range res.Holders {
				could := "yes"
				switch {
				case !h.Revoked.IsZero():
					could = "no (revoked " + h.Revoked.UTC().Format(time.RFC3339) + ")"
				case !h.CouldOpen:
					could = "no"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, could, strings.Join(h.Roles, ","), h.Since.UTC().Format(time.RFC3339), h.Source, h.By, h.Reason)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&at, "at", "", "the time asked about (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
