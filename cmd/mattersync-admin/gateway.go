package main

// The gateway-facing commands: audit verify/export/report, legal hold,
// deny list, epochs, usage; and the gateway admin client behind `user
// revoke`'s deny step, the epoch step of the commands that create or
// rotate epochs, and `matter shred`'s hold check.

import (
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
)

// gatewayAccess builds authenticated gateway admin clients.
type gatewayAccess struct {
	a      *app
	caCert string
}

// addGatewayCommands registers the gateway commands and wires the gateway
// client into revoke and shred (unless a test set its own hooks).
func addGatewayCommands(root *cobra.Command, a *app) {
	g := &gatewayAccess{a: a}
	root.PersistentFlags().StringVar(&g.caCert, "gateway-cacert", "", "PEM file of CAs for the gateway's TLS (default $MATTERSYNC_GATEWAY_CACERT)")
	if a.newDenyLister == nil {
		a.newDenyLister = func(ctx context.Context, url string) (denyLister, error) { return g.client(ctx, url) }
	}
	if a.newHoldChecker == nil {
		a.newHoldChecker = clientAs(g, func(c *client.Client) holdChecker { return holds{c} })
	}
	if a.newEpochSetter == nil {
		a.newEpochSetter = clientAs(g, func(c *client.Client) epochSetter { return epochs{c} })
	}
	if a.newReissuer == nil {
		a.newReissuer = clientAs(g, func(c *client.Client) reissuer { return reissues{c} })
	}
	auditCmd := &cobra.Command{Use: "audit", Short: "verify, export and report on the gateway's audit log"}
	auditCmd.AddCommand(g.auditVerifyCmd(), g.auditExportCmd(), g.auditReportCmd())
	hold := &cobra.Command{Use: "hold", Short: "legal hold: a matter on hold refuses deletes, purges and shredding"}
	hold.AddCommand(g.holdCmd("on"), g.holdCmd("off"), g.holdCmd("show"))
	deny := &cobra.Command{Use: "deny", Short: "the gateway deny list (`user revoke` adds to it; these are for repairs)"}
	deny.AddCommand(g.denyAddCmd(), g.denyRemoveCmd(), g.denyListCmd(), g.denyReissueCmd())
	epoch := &cobra.Command{Use: "epoch", Short: "the epoch the gateway enforces per matter (`matter create|rotate|remove|screen` and `user revoke` set it; these are for repairs)"}
	epoch.AddCommand(g.epochSetCmd(), g.epochShowCmd())
	root.AddCommand(auditCmd, hold, deny, epoch, g.usageCmd())
}

// holds adapts the client to the shred command's holdChecker.
// clientAs builds the hook that makes a gateway client for a URL and
// hands it out as wrap makes it.
func clientAs[T any](g *gatewayAccess, wrap func(*client.Client) T) func(context.Context, string) (T, error) {
	return func(ctx context.Context, url string) (T, error) {
		c, err := g.client(ctx, url)
		if err != nil {
			var none T
			return none, err
		}
		return wrap(c), nil
	}
}

type holds struct{ c *client.Client }

func (h holds) OnHold(ctx context.Context, matter string) (bool, error) {
	st, err := h.c.Hold(ctx, matter)
	return st.On, err
}

// reissues adapts the client to the reissue step's reissuer.
type reissues struct{ c *client.Client }

func (r reissues) Reissue(ctx context.Context, entityID, reason string) (time.Time, error) {
	st, err := r.c.Reissue(ctx, entityID, reason)
	return st.NotBefore, err
}

// epochs adapts the client to the epoch step's epochSetter.
type epochs struct{ c *client.Client }

// RaiseEpoch sets matter's epoch; a gateway already at a higher epoch (a
// later rotation, or a commit under it) is what the step wants, not an
// error.
func (e epochs) RaiseEpoch(ctx context.Context, matter string, epoch uint32) (uint32, error) {
	ep, err := e.c.SetEpoch(ctx, matter, epoch)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Body.Code == api.CodeStaleEpoch && ce.Body.CurrentEpoch > epoch {
		return ce.Body.CurrentEpoch, nil
	}
	if err != nil {
		return 0, err
	}
	return ep.Epoch, nil
}

// client returns a gateway client authenticated as the admin: with
// $MATTERSYNC_GATEWAY_TOKEN (an identity token, e.g. from `mattersync-admin
// vault identity-token`) or else an identity token of the Vault login.
func (g *gatewayAccess) client(ctx context.Context, url string) (*client.Client, error) {
	if url == "" {
		return nil, usage(errors.New("gateway not configured (--gateway or MATTERSYNC_GATEWAY_URL)"))
	}
	hc, err := client.HTTPClient(firstNonEmpty(g.caCert, g.a.getenv("MATTERSYNC_GATEWAY_CACERT")))
	if err != nil {
		return nil, usage(err)
	}
	hc.Timeout = 5 * time.Minute
	var tokens client.TokenSource
	if t := g.a.getenv("MATTERSYNC_GATEWAY_TOKEN"); t != "" {
		tokens = client.StaticToken(t)
	} else {
		adm, err := g.a.connect(ctx)
		if err != nil {
			return nil, err
		}
		// The Vault session lives as long as the command; the process
		// exits right after.
		context.AfterFunc(ctx, func() { adm.Close() })
		tokens = adm
	}
	host, _ := os.Hostname()
	dev := "mattersync-admin"
	if host != "" && api.ValidDevice("admin@"+host) {
		dev = "admin@" + host
	}
	c, err := client.New(url, tokens, client.Options{HTTPClient: hc, Device: dev})
	if err != nil {
		return nil, usage(err)
	}
	return c, nil
}

// run connects and runs f.
func (g *gatewayAccess) run(f func(cmd *cobra.Command, c *client.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := g.client(cmd.Context(), g.a.gateway())
		if err != nil {
			return err
		}
		return f(cmd, c, args)
	}
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

func (g *gatewayAccess) auditVerifyCmd() *cobra.Command {
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
				c, err := g.client(cmd.Context(), g.a.gateway())
				if err != nil {
					return err
				}
				if rep, err = c.AuditVerify(cmd.Context(), client.VerifyOptions{MaxCheckpointAge: maxAge, Expect: anchors}); err != nil {
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
				src, closeSrc, err := openAuditStore(cmd.Context(), offline[0], g.a.stderr)
				if err != nil {
					return err
				}
				defer closeSrc()
				opts := audit.VerifyOptions{CheckpointInterval: interval, MaxCheckpointAge: maxAge, Expect: anchors}
				if rep, err = audit.Verify(cmd.Context(), src, keys, opts); err != nil {
					return err
				}
			}
			g.a.printf("records: %d, checkpoints: %d, last checkpoint at record %d, head %s\n", rep.Records, rep.Checkpoints, rep.LastCheckpoint, rep.Head)
			if !rep.OK {
				return fmt.Errorf("AUDIT LOG BROKEN at record %d: %s", rep.Problem.Seq, rep.Problem.Reason)
			}
			if rep.LastCheckpoint < rep.Records {
				g.a.printf("note: records after %d are protected by their links only until the next checkpoint\n", rep.LastCheckpoint)
			}
			if len(anchors) > 0 {
				g.a.printf("all %d expected checkpoints present\n", len(anchors))
			}
			g.a.printf("audit log intact\n")
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

// openAuditStore opens a store read-only for offline verification.
func openAuditStore(ctx context.Context, spec string, warn io.Writer) (audit.Source, func(), error) {
	switch {
	case strings.HasPrefix(spec, "sqlite:"):
		s, err := sqlite.OpenReadOnly(ctx, strings.TrimPrefix(spec, "sqlite:"))
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		if u, err := url.Parse(spec); err == nil {
			if m := u.Query().Get("sslmode"); m != "verify-full" && m != "verify-ca" {
				fmt.Fprintf(warn, "WARNING --store: sslmode=%s does not verify the database server (use sslmode=verify-full)\n", firstNonEmpty(m, "prefer"))
			}
		}
		s, err := postgres.Open(ctx, spec, postgres.Options{NoMigrate: true, MaxConns: 2})
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	return nil, nil, usage(fmt.Errorf("--store %q: use sqlite:<path> or a postgres:// URL", spec))
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

func csvHeader() []string {
	return []string{"seq", "time", "entity", "user", "device", "source", "matter", "action", "object", "result", "status", "bytes", "request_id", "prev_hash", "hash"}
}

func csvRow(r *audit.Record) []string {
	return []string{strconv.FormatInt(r.Seq, 10), r.Time.Format(time.RFC3339Nano), r.Entity, r.User, r.Device, r.Source, r.Matter,
		r.Action, r.Object, r.Result, strconv.Itoa(r.Status), strconv.FormatInt(r.Bytes, 10), r.RequestID, r.PrevHash.String(), r.Hash.String()}
}

func (g *gatewayAccess) auditExportCmd() *cobra.Command {
	var f exportFlags
	var formatName, out string
	cmd := &cobra.Command{
		Use:   "export [--since T] [--until T] [--matter M] [--user U] --format jsonl|csv",
		Short: "export audit records (JSON lines for a SIEM, or CSV)",
		Args:  args(cobra.NoArgs),
		RunE: g.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			q, err := f.query()
			if err != nil {
				return err
			}
			if formatName != "jsonl" && formatName != "csv" {
				return usage(fmt.Errorf("--format %q: use jsonl or csv", formatName))
			}
			w := g.a.stdout
			if out != "" && out != "-" {
				fh, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return usage(err)
				}
				defer fh.Close()
				w = fh
			}
			var write func(*audit.Record) error
			var flush func() error
			switch formatName {
			case "jsonl":
				enc := json.NewEncoder(w)
				write, flush = func(r *audit.Record) error { return enc.Encode(r) }, func() error { return nil }
			case "csv":
				cw := csv.NewWriter(w)
				cw.Write(csvHeader())
				write = func(r *audit.Record) error { return cw.Write(csvRow(r)) }
				flush = func() error { cw.Flush(); return cw.Error() }
			}
			n := 0
			err = c.AuditExport(cmd.Context(), q, func(r *audit.Record) error { n++; return write(r) })
			if ferr := flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.a.stderr, "%d records exported\n", n)
			return nil
		}),
	}
	f.register(cmd)
	cmd.Flags().StringVar(&formatName, "format", "jsonl", "jsonl or csv")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to this file (mode 0600) instead of stdout")
	return cmd
}

// touch is what a user did on one matter, for the breach-scoping report.
type touch struct {
	first, last       time.Time
	actions           map[string]int
	denied            int
	bytesIn, bytesOut int64
	objects           map[string]bool
}

func (g *gatewayAccess) auditReportCmd() *cobra.Command {
	var f exportFlags
	var showObjects bool
	cmd := &cobra.Command{
		Use:   "report --user U --since T [--until T] [--matter M]",
		Short: "breach scoping: every matter and object a user touched in a time range",
		Args:  args(cobra.NoArgs),
		RunE: g.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
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
			by := map[string]*touch{}
			err = c.AuditExport(cmd.Context(), q, func(r *audit.Record) error {
				t := by[r.Matter]
				if t == nil {
					t = &touch{first: r.Time, actions: map[string]int{}, objects: map[string]bool{}}
					by[r.Matter] = t
				}
				t.last = r.Time
				if r.Result != audit.ResultOK {
					t.denied++
					return nil
				}
				t.actions[r.Action]++
				if r.Object != "" && r.Matter != "" {
					t.objects[r.Action+" "+r.Object] = true
				}
				switch r.Action {
				case "chunk.get", "file.get":
					t.bytesOut += r.Bytes
				case "chunk.put", "file.commit":
					t.bytesIn += r.Bytes
				}
				return nil
			})
			if err != nil {
				return err
			}
			who := firstNonEmpty(f.user, f.entity)
			g.a.printf("activity of %s from %s to %s\n", who, q.Since.Format(time.RFC3339), firstNonEmpty(f.until, "now"))
			if len(by) == 0 {
				g.a.printf("no records\n")
				return nil
			}
			matters := make([]string, 0, len(by))
			for m := range by {
				matters = append(matters, m)
			}
			slices.Sort(matters)
			tw := tabwriter.NewWriter(g.a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MATTER\tFIRST\tLAST\tREAD\tWRITTEN\tOBJECTS\tREFUSED\tACTIONS")
			for _, m := range matters {
				t := by[m]
				var acts []string
				for a, n := range t.actions {
					acts = append(acts, fmt.Sprintf("%s=%d", a, n))
				}
				slices.Sort(acts)
				name := m
				if name == "" {
					name = "(none)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", name, t.first.Format(time.RFC3339), t.last.Format(time.RFC3339),
					t.bytesOut, t.bytesIn, len(t.objects), t.denied, strings.Join(acts, " "))
			}
			tw.Flush()
			if showObjects {
				for _, m := range matters {
					objs := make([]string, 0, len(by[m].objects))
					for o := range by[m].objects {
						objs = append(objs, o)
					}
					slices.Sort(objs)
					for _, o := range objs {
						g.a.printf("%s %s\n", m, o)
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

func (g *gatewayAccess) holdCmd(what string) *cobra.Command {
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
		RunE: g.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
			var h api.Hold
			var err error
			switch what {
			case "on":
				if strings.TrimSpace(reason) == "" {
					return usage(errors.New("--reason is required (e.g. the case or instruction)"))
				}
				h, err = c.SetHold(cmd.Context(), args[0], reason)
			case "off":
				h, err = c.ReleaseHold(cmd.Context(), args[0])
			default:
				h, err = c.Hold(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			printHold(g.a, h)
			return nil
		}),
	}
	if what == "on" {
		cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the hold and in the audit log)")
	}
	return cmd
}

func (g *gatewayAccess) denyAddCmd() *cobra.Command {
	var name, reason string
	cmd := &cobra.Command{
		Use:   "add <entity-id> [--name N] [--reason R]",
		Short: "refuse an entity at every gateway replica (within a second); its devices are told to wipe",
		Args:  args(cobra.ExactArgs(1)),
		RunE: g.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
			if err := c.Deny(cmd.Context(), args[0], name, reason); err != nil {
				return err
			}
			g.a.printf("entity %s denied\n", args[0])
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "user name, for the list")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	return cmd
}

func (g *gatewayAccess) denyRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove <entity-id>",
		Short: "let an entity back in (its Vault entity must be re-enabled too)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: g.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
			if err := c.Undeny(cmd.Context(), args[0]); err != nil {
				return err
			}
			g.a.printf("entity %s removed from the deny list\n", args[0])
			return nil
		}),
	}
}

func (g *gatewayAccess) denyListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list the deny list and the reissue stamps",
		Args:  args(cobra.NoArgs),
		RunE: g.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			list, err := c.Denials(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.a.stdout, 2, 4, 2, ' ', 0)
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
			g.a.printf("\ntokens issued before these times are refused:\n")
			fmt.Fprintln(tw, "ENTITY\tNOT BEFORE\tBY\tREASON")
			for _, r := range list.Reissue {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.EntityID, r.NotBefore.Format(time.RFC3339), r.SetBy, r.Reason)
			}
			return tw.Flush()
		}),
	}
}

func (g *gatewayAccess) denyReissueCmd() *cobra.Command {
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
		RunE: g.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
			st, err := c.Reissue(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			g.a.printf("entity %s: identity tokens issued before %s are refused\n", st.EntityID, st.NotBefore.Format(time.RFC3339))
			return nil
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the stamp and in the audit log)")
	return cmd
}

func (g *gatewayAccess) epochSetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "set <matter> <epoch>",
		Short: "make the gateway refuse uploads sealed under epochs below <epoch> (never lowers it)",
		Long: `The commands that create or rotate an epoch do this themselves; use it when
their "gateway epoch" step failed or no gateway was configured, with the epoch
they printed. Setting the current epoch again changes nothing; a lower one is
refused (exit 9).`,
		Args: args(cobra.ExactArgs(2)),
		RunE: g.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
			n, err := strconv.ParseUint(args[1], 10, 32)
			if err != nil || n == 0 {
				return usage(fmt.Errorf("epoch %q: want an integer from 1 to %d", args[1], ^uint32(0)))
			}
			ep, err := c.SetEpoch(cmd.Context(), args[0], uint32(n))
			if err != nil {
				return err
			}
			if ep.Previous == ep.Epoch {
				g.a.printf("matter %s: gateway already at epoch %d\n", ep.Matter, ep.Epoch)
				return nil
			}
			g.a.printf("matter %s: gateway at epoch %d (was %d): uploads sealed under older epochs are refused\n", ep.Matter, ep.Epoch, ep.Previous)
			return nil
		}),
	}
}

func (g *gatewayAccess) epochShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show <matter>",
		Short: "show the epoch the gateway enforces for a matter",
		Args:  args(cobra.ExactArgs(1)),
		RunE: g.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
			ep, err := c.Epoch(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if ep.Epoch == 0 {
				g.a.printf("matter %s: the gateway has seen no epoch yet (it refuses nothing for it)\n", ep.Matter)
				return nil
			}
			g.a.printf("matter %s: gateway at epoch %d\n", ep.Matter, ep.Epoch)
			return nil
		}),
	}
}

func (g *gatewayAccess) usageCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "usage <matter>",
		Short: "what a matter stores at the gateway: chunks, files, versions, bytes",
		Args:  args(cobra.ExactArgs(1)),
		RunE: g.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
			u, err := c.Usage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.a.stdout).Encode(u)
			}
			g.a.printf("matter %s: %d chunks (%d bytes), %d files, %d versions (%d manifest bytes), change sequence %d\n",
				u.Matter, u.Chunks, u.ChunkBytes, u.Files, u.Versions, u.ManifestBytes, u.Seq)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
