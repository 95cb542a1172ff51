package main

// The gateway-facing commands: audit (audit.go), legal hold (hold.go),
// deny list (deny.go), epochs (epoch.go), and usage here.

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
)

// addGatewayCommands registers the gateway commands.
func addGatewayCommands(root *cobra.Command, a *app) {
	auditCmd := &cobra.Command{Use: "audit", Short: "verify, export and report on the gateway's audit log"}
	auditCmd.AddCommand(auditVerifyCmd(a), auditExportCmd(a), auditReportCmd(a), auditAnchorSetupCmd(a))
	hold := &cobra.Command{Use: "hold", Short: "legal hold: a matter on hold refuses deletes, purges and shredding"}
	hold.AddCommand(holdCmd(a, "on"), holdCmd(a, "off"), holdCmd(a, "show"), holdCmd(a, "history"), holdListCmd(a), holdStorageCmd(a))
	deny := &cobra.Command{Use: "deny", Short: "the gateway deny list (`user revoke` adds to it; these are for repairs)"}
	deny.AddCommand(denyAddCmd(a), denyRemoveCmd(a), denyListCmd(a), denyReissueCmd(a))
	epoch := &cobra.Command{Use: "epoch", Short: "the epoch the gateway enforces per matter (`matter create|rotate|remove|screen` and `user revoke` set it; these are for repairs)"}
	epoch.AddCommand(epochSetCmd(a), epochShowCmd(a))
	root.AddCommand(auditCmd, hold, deny, epoch, usageCmd(a), membershipCmd(a), reportCmd(a), storageCmd(a), deviceCmd(a), shareCmd(a), requestCmd(a))
}

func usageCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "usage <matter>",
		Short: "what a matter stores at the gateway: chunks, files, versions, bytes",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
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
