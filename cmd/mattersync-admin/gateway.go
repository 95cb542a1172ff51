package main

// The gateway-facing commands: audit verify/export/report, legal hold,
// deny list, epochs, usage.

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
)

// addGatewayCommands registers the gateway commands.
func addGatewayCommands(root *cobra.Command, a *app) {
	auditCmd := &cobra.Command{Use: "audit", Short: "verify, export and report on the gateway's audit log"}
	auditCmd.AddCommand(auditVerifyCmd(a), auditExportCmd(a), auditReportCmd(a))
	hold := &cobra.Command{Use: "hold", Short: "legal hold: a matter on hold refuses deletes, purges and shredding"}
	hold.AddCommand(holdCmd(a, "on"), holdCmd(a, "off"), holdCmd(a, "show"))
	deny := &cobra.Command{Use: "deny", Short: "the gateway deny list (`user revoke` adds to it; these are for repairs)"}
	deny.AddCommand(denyAddCmd(a), denyRemoveCmd(a), denyListCmd(a), denyReissueCmd(a))
	epoch := &cobra.Command{Use: "epoch", Short: "the epoch the gateway enforces per matter (`matter create|rotate|remove|screen` and `user revoke` set it; these are for repairs)"}
	epoch.AddCommand(epochSetCmd(a), epochShowCmd(a))
	root.AddCommand(auditCmd, hold, deny, epoch, usageCmd(a))
}

// parseWhen reads a time: RFC 3339, a date (UTC midnight), or an age such
// as 90d or 36h meaning that long ago.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usage(fmt.Errorf("%q is not a time (RFC 3339, YYYY-MM-DD, or an age like 90d or 12h)", s))
}

func auditVerifyCmd(a *app) *cobra.Command {
	var offline, pubKeys, expect []string
	var interval, maxAge time.Duration
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "verify the audit hash chain and its signed checkpoints; name the first broken record",
		Long: `Without --store, asks the gateway to verify its own log (against its
checkpoint keys). With --store, reads the database directly, e.g. from a
backup or with the gateway down, and trusts only the --public-key files:
  --store sqlite:/var/lib/mattersync/gateway.db
  --store postgres://user@db/mattersync   (password from PGPASSWORD)

Besides every record's hash and link and every checkpoint's signature, it
checks that the checkpoints form one chain (none deleted from the middle),
that checkpoints exist where a signing gateway would have made them (no
checkpoint while the records span more than 2 checkpoint intervals, or
records not covered by one spanning more than --max-checkpoint-age), and
that every --expect-checkpoint <seq>:<hash> is in the log and matches its
record: take those from the gateway's "audit checkpoint signed" log lines
kept by the SIEM (field "anchor"), which someone with write access to the
database cannot change.
Exits 0 if the chain is intact, 1 if it is broken.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var anchors []audit.Anchor
			for _, e := range expect {
				a, err := audit.ParseAnchor(e)
				if err != nil {
					return usage(fmt.Errorf("--expect-checkpoint: %w", err))
				}
				anchors = append(anchors, a)
			}
			if maxAge < 0 || interval <= 0 {
				return usage(errors.New("--checkpoint-interval must be positive and --max-checkpoint-age not negative"))
			}
			var rep audit.Report
			if len(offline) == 0 {
				if cmd.Flags().Changed("checkpoint-interval") {
					return usage(errors.New("--checkpoint-interval is for --store: the gateway knows its own"))
				}
				if _, err := a.openGateway(cmd.Context()); err != nil {
					return err
				}
				var err error
				if rep, err = a.session(nil).VerifyAudit(cmd.Context(), client.VerifyOptions{MaxCheckpointAge: maxAge, Expect: anchors}); err != nil {
					return err
				}
			} else {
				if len(pubKeys) == 0 {
					return usage(errors.New("--store needs at least one --public-key (the gateway's audit-signing-key.pem.pub)"))
				}
				var keys []ed25519.PublicKey
				for _, f := range pubKeys {
					k, err := gateway.LoadPublicKey(f)
					if err != nil {
						return usage(err)
					}
					keys = append(keys, k)
				}
				opts := audit.VerifyOptions{CheckpointInterval: interval, MaxCheckpointAge: maxAge, Expect: anchors}
				var err error
				if rep, err = admin.VerifyStore(cmd.Context(), offline[0], keys, opts, a.stderr); err != nil {
					return err
				}
			}
			a.printf("records: %d, checkpoints: %d, last checkpoint at record %d, head %s\n", rep.Records, rep.Checkpoints, rep.LastCheckpoint, rep.Head)
			if !rep.OK {
				return fmt.Errorf("AUDIT LOG BROKEN at record %d: %s", rep.Problem.Seq, rep.Problem.Reason)
			}
			if rep.LastCheckpoint < rep.Records {
				a.printf("note: records after %d are protected by their links only until the next checkpoint\n", rep.LastCheckpoint)
			}
			if len(anchors) > 0 {
				a.printf("all %d expected checkpoints present\n", len(anchors))
			}
			a.printf("audit log intact\n")
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&offline, "store", nil, "verify this database directly instead of asking the gateway")
	cmd.Flags().StringSliceVar(&pubKeys, "public-key", nil, "trusted checkpoint public key (PEM), repeatable; required with --store")
	cmd.Flags().StringArrayVar(&expect, "expect-checkpoint", nil, "a checkpoint `<seq>:<hash>` from the gateway's log (SIEM) that must be in the log, repeatable")
	cmd.Flags().DurationVar(&interval, "checkpoint-interval", time.Minute, "with --store: the gateways' audit.checkpoint_interval")
	cmd.Flags().DurationVar(&maxAge, "max-checkpoint-age", 0, "fail if records not covered by a checkpoint span longer than this (default 5 checkpoint intervals)")
	return cmd
}

// exportFlags are the filters shared by export and report.
type exportFlags struct {
	since, until, matter, user, entity string
}

func (f *exportFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.since, "since", "", "from this time (RFC 3339, YYYY-MM-DD, or an age like 90d)")
	cmd.Flags().StringVar(&f.until, "until", "", "until this time, exclusive")
	cmd.Flags().StringVar(&f.matter, "matter", "", "only this matter")
	cmd.Flags().StringVar(&f.user, "user", "", "only this user name")
	cmd.Flags().StringVar(&f.entity, "entity", "", "only this Vault entity ID")
}

func (f *exportFlags) query() (client.AuditQuery, error) {
	now := time.Now()
	since, err := parseWhen(f.since, now)
	if err != nil {
		return client.AuditQuery{}, err
	}
	until, err := parseWhen(f.until, now)
	if err != nil {
		return client.AuditQuery{}, err
	}
	return client.AuditQuery{Since: since, Until: until, Matter: f.matter, User: f.user, Entity: f.entity}, nil
}

func auditExportCmd(a *app) *cobra.Command {
	var f exportFlags
	var formatName, out string
	cmd := &cobra.Command{
		Use:   "export [--since T] [--until T] [--matter M] [--user U] --format jsonl|csv",
		Short: "export audit records (JSON lines for a SIEM, or CSV)",
		Args:  args(cobra.NoArgs),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			q, err := f.query()
			if err != nil {
				return err
			}
			format := admin.ExportFormat(formatName)
			if format != admin.JSONLines && format != admin.CSV {
				return usage(fmt.Errorf("--format %q: use jsonl or csv", formatName))
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
			n, err := s.ExportAudit(cmd.Context(), q, format, w)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%d records exported\n", n)
			return nil
		}),
	}
	f.register(cmd)
	cmd.Flags().StringVar(&formatName, "format", "jsonl", "jsonl or csv")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to this file (mode 0600) instead of stdout")
	return cmd
}

func auditReportCmd(a *app) *cobra.Command {
	var f exportFlags
	var showObjects bool
	cmd := &cobra.Command{
		Use:   "report --user U --since T [--until T] [--matter M]",
		Short: "breach scoping: every matter and object a user touched in a time range",
		Args:  args(cobra.NoArgs),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			if f.user == "" && f.entity == "" {
				return usage(errors.New("--user or --entity is required"))
			}
			if f.since == "" {
				return usage(errors.New("--since is required (e.g. --since 90d)"))
			}
			q, err := f.query()
			if err != nil {
				return err
			}
			act, err := s.Activity(cmd.Context(), q)
			if err != nil {
				return err
			}
			a.printf("activity of %s from %s to %s\n", firstNonEmpty(f.user, f.entity), q.Since.Format(time.RFC3339), firstNonEmpty(f.until, "now"))
			if len(act) == 0 {
				a.printf("no records\n")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MATTER\tFIRST\tLAST\tREAD\tWRITTEN\tOBJECTS\tREFUSED\tACTIONS")
			for _, t := range act {
				var acts []string
				for a, n := range t.Actions {
					acts = append(acts, fmt.Sprintf("%s=%d", a, n))
				}
				slices.Sort(acts)
				name := t.Matter
				if name == "" {
					name = "(none)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", name, t.First.Format(time.RFC3339), t.Last.Format(time.RFC3339),
					t.BytesRead, t.BytesWritten, len(t.Objects), t.Refused, strings.Join(acts, " "))
			}
			tw.Flush()
			if showObjects {
				for _, t := range act {
					for _, o := range t.Objects {
						a.printf("%s %s\n", t.Matter, o)
					}
				}
			}
			return nil
		}),
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&showObjects, "objects", true, "list every object touched (matter, action, object ID)")
	return cmd
}

func printHold(a *app, h api.Hold) {
	if !h.On {
		a.printf("matter %s: no legal hold", h.Matter)
		if h.ChangedBy != "" {
			a.printf(" (released by %s at %s)", h.ChangedBy, h.Time.Format(time.RFC3339))
		}
		a.printf("\n")
		return
	}
	a.printf("matter %s: ON LEGAL HOLD since %s, set by %s: %s\n", h.Matter, h.Time.Format(time.RFC3339), h.ChangedBy, h.Reason)
}

func holdCmd(a *app, what string) *cobra.Command {
	var reason string
	short := map[string]string{
		"on":   "put a matter on legal hold: deletes, purges and shredding are refused",
		"off":  "release a matter's legal hold",
		"show": "show a matter's legal hold",
	}[what]
	cmd := &cobra.Command{
		Use:   what + " <matter>",
		Short: short,
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			var h api.Hold
			var err error
			switch what {
			case "on":
				if strings.TrimSpace(reason) == "" {
					return usage(errors.New("--reason is required (e.g. the case or instruction)"))
				}
				h, err = s.SetHold(cmd.Context(), args[0], reason)
			case "off":
				h, err = s.ReleaseHold(cmd.Context(), args[0])
			default:
				h, err = s.Hold(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			printHold(a, h)
			return nil
		}),
	}
	if what == "on" {
		cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the hold and in the audit log)")
	}
	return cmd
}

func denyAddCmd(a *app) *cobra.Command {
	var name, reason string
	cmd := &cobra.Command{
		Use:   "add <entity-id> [--name N] [--reason R]",
		Short: "refuse an entity at every gateway replica (within a second); its devices are told to wipe",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if err := s.Deny(cmd.Context(), args[0], name, reason); err != nil {
				return err
			}
			a.printf("entity %s denied\n", args[0])
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "user name, for the list")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	return cmd
}

func denyRemoveCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove <entity-id>",
		Short: "let an entity back in (its Vault entity must be re-enabled too)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if err := s.Undeny(cmd.Context(), args[0]); err != nil {
				return err
			}
			a.printf("entity %s removed from the deny list\n", args[0])
			return nil
		}),
	}
}

func denyListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list the deny list and the reissue stamps",
		Args:  args(cobra.NoArgs),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			list, err := s.Denials(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ENTITY\tNAME\tSINCE\tBY\tREASON")
			for _, e := range list.Entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.EntityID, e.Name, e.Time.Format(time.RFC3339), e.CreatedBy, e.Reason)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(list.Reissue) == 0 {
				return nil
			}
			a.printf("\ntokens issued before these times are refused:\n")
			fmt.Fprintln(tw, "ENTITY\tNOT BEFORE\tBY\tREASON")
			for _, r := range list.Reissue {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.EntityID, r.NotBefore.Format(time.RFC3339), r.SetBy, r.Reason)
			}
			return tw.Flush()
		}),
	}
}

func denyReissueCmd(a *app) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "reissue <entity-id> [--reason R]",
		Short: "refuse an entity's identity tokens issued until now: its devices fetch new ones, with its current groups",
		Long: `matter remove and matter screen do this themselves; use it when their
"gateway reissue" step failed or no gateway was configured, or after
changing someone's groups in Vault by hand. Until then the entity's
tokens keep the groups they were issued with until they expire
(vault.max_token_lifetime at the gateway, 15m by default).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			st, err := s.Reissue(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			a.printf("entity %s: identity tokens issued before %s are refused\n", st.EntityID, st.NotBefore.Format(time.RFC3339))
			return nil
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the stamp and in the audit log)")
	return cmd
}

func epochSetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "set <matter> <epoch>",
		Short: "make the gateway refuse uploads sealed under epochs below <epoch> (never lowers it)",
		Long: `The commands that create or rotate an epoch do this themselves; use it when
their "gateway epoch" step failed or no gateway was configured, with the epoch
they printed. Setting the current epoch again changes nothing; a lower one is
refused (exit 9).`,
		Args: args(cobra.ExactArgs(2)),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			n, err := strconv.ParseUint(args[1], 10, 32)
			if err != nil || n == 0 {
				return usage(fmt.Errorf("epoch %q: want an integer from 1 to %d", args[1], ^uint32(0)))
			}
			ep, err := s.SetEpoch(cmd.Context(), args[0], uint32(n))
			if err != nil {
				return err
			}
			if ep.Previous == ep.Epoch {
				a.printf("matter %s: gateway already at epoch %d\n", ep.Matter, ep.Epoch)
				return nil
			}
			a.printf("matter %s: gateway at epoch %d (was %d): uploads sealed under older epochs are refused\n", ep.Matter, ep.Epoch, ep.Previous)
			return nil
		}),
	}
}

func epochShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show <matter>",
		Short: "show the epoch the gateway enforces for a matter",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			ep, err := s.Epoch(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if ep.Epoch == 0 {
				a.printf("matter %s: the gateway has seen no epoch yet (it refuses nothing for it)\n", ep.Matter)
				return nil
			}
			a.printf("matter %s: gateway at epoch %d\n", ep.Matter, ep.Epoch)
			return nil
		}),
	}
}

func usageCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "usage <matter>",
		Short: "what a matter stores at the gateway: chunks, files, versions, bytes",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			u, err := s.Usage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(u)
			}
			a.printf("matter %s: %d chunks (%d bytes), %d files, %d versions (%d manifest bytes), change sequence %d\n",
				u.Matter, u.Chunks, u.ChunkBytes, u.Files, u.Versions, u.ManifestBytes, u.Seq)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
