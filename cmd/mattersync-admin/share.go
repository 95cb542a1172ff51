package main

// matter sharing on|off and the share commands (docs/SHARING.md).

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/gateway/api"
)

func matterSharingCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "sharing on|off|show <matter>",
		Short: "let the matter's members share files outside the firm by link, or not (off revokes its live links)",
		Long: `Sets whether members of the matter may send files to people outside the
firm as end-to-end encrypted links (mattersync share). A matter never set
follows the gateway's sharing.default. off also revokes the matter's live
links, each recorded as share.revoke. show prints the policy as set and in
effect (off whenever the gateway has no sharing: section).`,
		Args: args(cobra.ExactArgs(2)),
		RunE: withGatewayVault(a, func(args []string) bool { return args[0] != "show" }, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			var p api.Sharing
			var err error
			switch args[0] {
			case "on", "off":
				p, err = s.SetSharing(cmd.Context(), args[1], args[0] == "on")
			case "show":
				p, err = s.Sharing(cmd.Context(), args[1])
			default:
				return usage(fmt.Errorf("%q: use on, off or show", args[0]))
			}
			if err != nil {
				return err
			}
			a.printf("matter %s: sharing %s (set: %s)\n", p.Matter, p.Effective, p.Sharing)
			return nil
		}),
	}
}

func shareCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "share", Short: "links to files shared outside the firm: list, revoke"}
	cmd.AddCommand(shareListCmd(a), shareRevokeCmd(a))
	return cmd
}

func shareListCmd(a *app) *cobra.Command {
	var matter, user, formatName string
	cmd := &cobra.Command{
		Use:   "list [--matter M] [--user U] [--format table|csv|json]",
		Short: "list shares: recipient, creator, file version, expiry, downloads, state",
		Args:  args(cobra.NoArgs),
		RunE: withGatewayVault(a, func([]string) bool { return user != "" }, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			switch formatName {
			case "table", "csv", "json":
			default:
				return usage(fmt.Errorf("--format must be table, csv or json, not %q", formatName))
			}
			list, err := s.Shares(cmd.Context(), matter, user)
			if err != nil {
				return err
			}
			return printShares(a, list, formatName)
		}),
	}
	cmd.Flags().StringVar(&matter, "matter", "", "only this matter's shares")
	cmd.Flags().StringVar(&user, "user", "", "only the shares this user made")
	cmd.Flags().StringVar(&formatName, "format", "table", "table, csv or json")
	return cmd
}

var shareColumns = []string{"id", "matter", "recipient", "creator", "file", "version", "created", "expires", "downloads", "max_downloads", "state", "revoked", "revoked_by", "revoke_reason"}

func shareRow(sh api.Share) []string {
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	revoked := ""
	if sh.Revoked != nil {
		revoked = when(*sh.Revoked)
	}
	return []string{sh.ID, sh.Matter, sh.Recipient, sh.Creator, sh.File, strconv.FormatInt(sh.Version, 10), when(sh.Created), when(sh.Expires),
		strconv.FormatInt(sh.Downloads, 10), strconv.FormatInt(sh.MaxDownloads, 10), string(sh.State), revoked, sh.RevokedBy, sh.RevokeReason}
}

func printShares(a *app, list []api.Share, formatName string) error {
	switch formatName {
	case "json":
		if list == nil {
			list = []api.Share{}
		}
		e := json.NewEncoder(a.stdout)
		e.SetIndent("", "  ")
		return e.Encode(api.ShareList{Shares: list})
	case "csv":
		w := admin.NewCSVWriter(a.stdout)
		w.Write(shareColumns)
		for _, sh := range list {
			row := shareRow(sh)
			w.Write(row)
		}
		return w.Flush()
	}
	if len(list) == 0 {
		a.printf("no shares\n")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMATTER\tRECIPIENT\tCREATOR\tFILE@VERSION\tEXPIRES\tDOWNLOADS\tSTATE")
	for _, sh := range list {
		state := string(sh.State)
		if sh.State == api.ShareRevoked && sh.RevokeReason != "" {
			state += " (" + sh.RevokeReason + ")"
		}
		file := sh.File
		if len(file) > 12 {
			file = file[:12] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s@%d\t%s\t%d/%d\t%s\n", sh.ID, sh.Matter, sh.Recipient, sh.Creator, file, sh.Version,
			sh.Expires.UTC().Format(time.RFC3339), sh.Downloads, sh.MaxDownloads, state)
	}
	return tw.Flush()
}

func shareRevokeCmd(a *app) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke <id> [--reason R]",
		Short: "revoke a share link: its recipient can no longer download (recorded as share.revoke)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if len(args[0]) != 32 {
				return usage(errors.New("a share ID is 32 hex characters (mattersync-admin share list)"))
			}
			done, err := s.RevokeShare(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			if len(done) == 0 {
				a.printf("share %s: revoked or expired already\n", args[0])
				return nil
			}
			a.printf("share %s to %s revoked\n", done[0].ID, done[0].Recipient)
			return nil
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the revocation and in the audit log)")
	return cmd
}
