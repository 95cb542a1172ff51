package main

// The request commands: file requests, through which clients upload into
// matters (docs/SHARING.md, "Request files").

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/gateway/api"
)

func requestCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "request", Short: "file requests (clients uploading into matters): list, revoke"}
	cmd.AddCommand(requestListCmd(a), requestRevokeCmd(a), requestDropsCmd(a))
	return cmd
}

func requestListCmd(a *app) *cobra.Command {
	var matter, user, formatName string
	cmd := &cobra.Command{
		Use:   "list [--matter M] [--user U] [--format table|csv|json]",
		Short: "list file requests: client, maker, expiry, files and bytes taken, state",
		Args:  args(cobra.NoArgs),
		RunE: withGatewayVault(a, func([]string) bool { return user != "" }, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			switch formatName {
			case "table", "csv", "json":
			default:
				return usage(fmt.Errorf("--format must be table, csv or json, not %q", formatName))
			}
			list, err := s.Requests(cmd.Context(), matter, user)
			if err != nil {
				return err
			}
			return printRequests(a, list, formatName)
		}),
	}
	cmd.Flags().StringVar(&matter, "matter", "", "only this matter's requests")
	cmd.Flags().StringVar(&user, "user", "", "only the requests this user made")
	cmd.Flags().StringVar(&formatName, "format", "table", "table, csv or json")
	return cmd
}

var requestColumns = []string{"id", "matter", "from", "creator", "created", "expires", "files", "max_files", "bytes", "max_bytes", "state", "revoked", "revoked_by", "revoke_reason"}

func requestRow(q api.Request) []string {
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	revoked := ""
	if q.Revoked != nil {
		revoked = when(*q.Revoked)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []string{q.ID, q.Matter, q.Recipient, q.Creator, when(q.Created), when(q.Expires), n(q.Files), n(q.MaxFiles), n(q.Bytes), n(q.MaxBytes),
		string(q.State), revoked, q.RevokedBy, q.RevokeReason}
}

func printRequests(a *app, list []api.Request, formatName string) error {
	switch formatName {
	case "json":
		if list == nil {
			list = []api.Request{}
		}
		e := json.NewEncoder(a.stdout)
		e.SetIndent("", "  ")
		return e.Encode(api.RequestList{Requests: list})
	case "csv":
		w := admin.NewCSVWriter(a.stdout)
		w.Write(requestColumns)
		for _, q := range list {
			row := requestRow(q)
			w.Write(row)
		}
		return w.Flush()
	}
	if len(list) == 0 {
		a.printf("no file requests\n")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMATTER\tFROM\tCREATOR\tEXPIRES\tFILES\tSTATE")
	for _, q := range list {
		state := string(q.State)
		if q.State == api.RequestRevoked && q.RevokeReason != "" {
			state += " (" + q.RevokeReason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", q.ID, q.Matter, q.Recipient, q.Creator,
			q.Expires.UTC().Format(time.RFC3339), q.Files, q.MaxFiles, state)
	}
	return tw.Flush()
}

func requestRevokeCmd(a *app) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke <id> [--reason R]",
		Short: "revoke a file request: its link takes no more files (recorded as request.revoke)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if len(args[0]) != 32 {
				return usage(errors.New("a request ID is 32 hex characters (mattersync-admin request list)"))
			}
			done, err := s.RevokeRequest(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			if len(done) == 0 {
				a.printf("request %s: revoked or expired already\n", args[0])
				return nil
			}
			a.printf("request %s from %s revoked\n", done[0].ID, done[0].Recipient)
			return nil
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the revocation and in the audit log)")
	return cmd
}

func requestDropsCmd(a *app) *cobra.Command {
	var matter string
	cmd := &cobra.Command{
		Use:   "drops [--matter M]",
		Short: "list clients' uploads not delivered yet: waiting for a member's agent, or left with a problem",
		Args:  args(cobra.NoArgs),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			list, err := s.UndeliveredDrops(cmd.Context(), matter)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				a.printf("no undelivered uploads\n")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DROP\tMATTER\tREQUEST\tFROM\tSIZE\tUPLOADED\tSTATE")
			for _, d := range list {
				state := "waiting for a member's agent"
				switch {
				case d.Problem != "":
					// The agent's words: printable ASCII only on a terminal.
					state = "not delivered: " + strings.Map(func(r rune) rune {
						if r < 0x20 || r > 0x7e {
							return '?'
						}
						return r
					}, d.Problem)
				case d.ClaimUntil != nil && d.ClaimUntil.After(time.Now()):
					state = "being delivered (claimed until " + d.ClaimUntil.UTC().Format(time.RFC3339) + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Matter, d.Request, d.Sender, d.Size, d.Uploaded.UTC().Format(time.RFC3339), state)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&matter, "matter", "", "only this matter's uploads")
	return cmd
}
