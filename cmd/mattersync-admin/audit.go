package main

// The audit commands: verify, export, and the breach-scoping report.

import (
	"crypto/ed25519"
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
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
)

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
	var ao admin.AnchorOptions
	var quiet bool
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
With --store, --anchor-bucket and --vault-head compare the database
with the copies of every signed checkpoint the gateway keeps outside it
(docs/EVIDENCE.md): the S3 bucket under Object Lock (credentials from
MATTERSYNC_S3_ACCESS_KEY and MATTERSYNC_S3_SECRET_KEY, read-only is enough)
and the head in Vault (your Vault login). Without --store the gateway
compares with its own anchors. Every problem is named with the records it
concerns: records missing, modified or out of order, checkpoints deleted,
the newest records deleted or an older copy of the database restored,
the chain rewritten (and after which record).
Exits 0 if the chain is intact, 1 if it is broken, 2 if an
--expect-checkpoint is malformed, or contradicts records that the log's
signed checkpoints pin while the log itself verifies (a mistyped anchor).`,
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
			var verify func(anchors []audit.Anchor) (audit.Report, error)
			if len(offline) == 0 {
				if cmd.Flags().Changed("checkpoint-interval") {
					return usage(errors.New("--checkpoint-interval is for --store: the gateway knows its own"))
				}
				if ao.Bucket != "" || ao.VaultHead {
					return usage(errors.New("--anchor-bucket and --vault-head are for --store: the gateway compares with its own anchors"))
				}
				if _, err := a.openGateway(cmd.Context()); err != nil {
					return err
				}
				verify = func(anchors []audit.Anchor) (audit.Report, error) {
					return a.session(nil).VerifyAudit(cmd.Context(), client.VerifyOptions{MaxCheckpointAge: maxAge, Expect: anchors})
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
				var witnesses []audit.Witness
				if ao.Bucket != "" || ao.VaultHead {
					s := a.session(nil)
					if ao.VaultHead {
						v, err := a.connect(cmd.Context())
						if err != nil {
							return err
						}
						defer v.Close()
						s = a.session(v)
					}
					ao.AccessKey, ao.SecretKey = a.getenv("MATTERSYNC_S3_ACCESS_KEY"), a.getenv("MATTERSYNC_S3_SECRET_KEY")
					ws, err := s.Witnesses(cmd.Context(), ao)
					if err != nil {
						return err
					}
					witnesses = ws
				}
				runs := 0
				verify = func(expect []audit.Anchor) (audit.Report, error) {
					runs++
					opts := audit.VerifyOptions{CheckpointInterval: interval, MaxCheckpointAge: maxAge, Expect: expect, Witnesses: witnesses}
					if !quiet && runs == 1 {
						opts.Progress = progressPrinter(a, time.Now())
					}
					return admin.VerifyStore(cmd.Context(), offline[0], keys, opts, a.stderr)
				}
			}
			rep, err := verify(anchors)
			if err != nil {
				return err
			}
			if !rep.OK && len(anchors) > 0 {
				if err := mistypedAnchor(rep, anchors, verify); err != nil {
					return err
				}
			}
			printReport(a, rep)
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
	cmd.Flags().StringVar(&ao.Bucket, "anchor-bucket", "", "with --store: the Object Lock bucket holding the checkpoint copies (audit.anchors.s3.bucket)")
	cmd.Flags().StringVar(&ao.Prefix, "anchor-prefix", "audit/checkpoints/", "with --anchor-bucket: the copies' key prefix")
	cmd.Flags().StringVar(&ao.Endpoint, "s3-endpoint", "", "with --anchor-bucket: S3 host[:port]")
	cmd.Flags().StringVar(&ao.Region, "s3-region", "us-east-1", "with --anchor-bucket: S3 region")
	cmd.Flags().BoolVar(&ao.Insecure, "s3-insecure", false, "with --anchor-bucket: plain HTTP to S3 (development only)")
	cmd.Flags().BoolVar(&ao.VaultHead, "vault-head", false, "with --store: compare with the audit head the gateway keeps in Vault (your Vault login)")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress on stderr")
	return cmd
}

// progressPrinter prints verification progress on stderr, at most every
// two seconds.
func progressPrinter(a *app, start time.Time) func(done, total int64) {
	last := start
	return func(done, total int64) {
		now := time.Now()
		if now.Sub(last) < 2*time.Second && (total == 0 || done < total) {
			return
		}
		last = now
		rate := float64(done) / max(now.Sub(start).Seconds(), 1e-3)
		if total > 0 {
			fmt.Fprintf(a.stderr, "verified %d of %d records (%.0f%%, %.0f records/s)\n", done, total, 100*float64(done)/float64(total), rate)
		} else {
			fmt.Fprintf(a.stderr, "verified %d records (%.0f records/s)\n", done, rate)
		}
	}
}

// printReport prints a verification's findings.
func printReport(a *app, rep audit.Report) {
	a.printf("records: %d, checkpoints: %d, last checkpoint at record %d, head %s\n", rep.Records, rep.Checkpoints, rep.LastCheckpoint, rep.Head)
	if st := rep.Anchors; st != nil {
		a.printf("anchors: %s: %d copies checked, %d agree with the database, newest of record %d", strings.Join(st.Witnesses, ", "), st.Checked, st.Matched, st.Newest)
		if st.NewestWhere != "" {
			a.printf(" (%s)", st.NewestWhere)
		}
		a.printf("\n")
		if len(st.Witnesses) == 0 {
			a.printf("WARNING no anchors: whoever holds the database can shorten the log unseen (audit.anchors, docs/EVIDENCE.md)\n")
		}
	}
	for _, p := range rep.Problems {
		a.printf("PROBLEM %s: %s\n", p.Kind, p.Reason)
	}
	if rep.MoreProblems > 0 {
		a.printf("PROBLEM and %d more\n", rep.MoreProblems)
	}
	for _, w := range rep.Warnings {
		a.printf("WARNING %s\n", w)
	}
}

func auditAnchorSetupCmd(a *app) *cobra.Command {
	var opt kms.GatewayLoginOptions
	cmd := &cobra.Command{
		Use:   "anchor-setup",
		Short: "set up the gateway's Vault login that keeps the audit head in Vault (needs a root-like token)",
		Long: `Creates, idempotently, the policy <name>-gateway (read and write
<kv>/audit/head, nothing else), the AppRole auth mount, the role
<name>-gateway, and the head's KV metadata (check-and-set, versions kept),
then prints the role ID for audit.anchors.vault.role_id and a new secret ID
for the variable audit.anchors.vault.secret_id_env names
(MATTERSYNC_VAULT_SECRET_ID). Run it with the bootstrap token, like
vault init: the admin policy cannot create logins. See docs/EVIDENCE.md.`,
		Args: args(cobra.NoArgs),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			opt.NewSecretID = true
			g, err := s.SetupGatewayLogin(cmd.Context(), opt)
			if err != nil {
				return err
			}
			a.printf("role_id: %s\nsecret_id: %s\n", g.RoleID, g.SecretID)
			a.printf("put role_id in audit.anchors.vault.role_id and the secret ID in the gateway's environment (MATTERSYNC_VAULT_SECRET_ID); it is shown once\n")
			return nil
		}),
	}
	cmd.Flags().StringVar(&opt.Mount, "approle-mount", "approle", "AppRole auth mount")
	cmd.Flags().StringSliceVar(&opt.CIDRs, "cidr", nil, "bind the secret ID and tokens to these networks (the gateway hosts), repeatable")
	return cmd
}

// exportFlags are the filters shared by export and report.
type exportFlags struct {
	since, until, matter, user, entity string
}

// names reports whether the query names a user, entity or matter, whose
// existence is then checked in Vault when no record matches.
func (f *exportFlags) names([]string) bool { return f.user != "" || f.entity != "" || f.matter != "" }

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
		RunE: withGatewayVault(a, f.names, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
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
		RunE: withGatewayVault(a, f.names, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
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

// mistypedAnchor tells a mistyped --expect-checkpoint from a broken log,
// given a failed verification with anchors: if the log verifies without
// them, an anchor at or below its last signed checkpoint contradicts
// records that checkpoint signatures pin (which write access to the
// database cannot change), so the argument is wrong, not the log. It
// returns that usage error, an error if verifying again fails, or nil
// (the log is broken: the caller says so).
func mistypedAnchor(rep audit.Report, anchors []audit.Anchor, verify func([]audit.Anchor) (audit.Report, error)) error {
	if rep.Problem == nil {
		return nil
	}
	base, err := verify(nil)
	if err != nil || !base.OK || rep.Problem.Seq > base.LastCheckpoint {
		return err
	}
	var bad []string
	var rest []audit.Anchor
	for _, an := range anchors {
		switch {
		case an.Seq == rep.Problem.Seq:
			bad = append(bad, an.String())
		case an.Seq > base.LastCheckpoint:
			rest = append(rest, an)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	if len(rest) > 0 {
		// An anchor past the signed checkpoints may still reveal a
		// rewritten tail: that is the log's problem, reported first.
		if r, err := verify(rest); err != nil || !r.OK {
			return err
		}
	}
	return usage(fmt.Errorf("--expect-checkpoint %s does not match this log (%s), but the log verifies and its records up to %d are pinned by checkpoints signed with a trusted key: "+
		"the argument is mistyped or from another gateway's log; copy the \"anchor\" field of an \"audit checkpoint signed\" log line again (only a stolen signing key could explain it otherwise)",
		strings.Join(bad, ", "), rep.Problem.Reason, base.LastCheckpoint))
}
