package main

// matter close [--shred], and the destruction record it leaves.

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/lifecycle"
	"github.com/mattersync/mattersync/internal/fault"
)

func matterCloseCmd(a *app) *cobra.Command {
	var reason, confirm string
	var shred bool
	cmd := &cobra.Command{
		Use:   "close <matter> --reason <why> [--shred --confirm <matter>]",
		Short: "close a matter: members removed; with --shred its key, objects and records destroyed",
		Long: `Closes the matter at the gateway (its uploads, commits, deletes and changes
feed refused from then on) and removes every member: their devices stop syncing
the matter and keep or remove their copies as the agents' on_matter_closed says
(default keep). The data stays, as retention says, unless --shred: then, refused while the matter is on legal hold, the
matter's Vault transit key is deleted (nobody can decrypt it any more), and
the gateway removes every record and every object of the matter, reports the
bytes reclaimed, and signs a destruction record (who, when, why, objects and
bytes destroyed). Audit records stay. Run again to finish an interrupted close.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			id := args[0]
			if strings.TrimSpace(reason) == "" {
				return usage(errors.New("--reason is required (e.g. the file closed on, the retention rule)"))
			}
			if shred && confirm != id {
				return usage(fmt.Errorf("shredding is irreversible: repeat the matter ID with --confirm %s", id))
			}
			res, err := s.CloseMatter(cmd.Context(), id, admin.CloseOptions{Reason: reason, Shred: shred})
			if err != nil && !res.Shredded {
				return err
			}
			if res.Storage.Destruction != nil {
				a.printf("matter %s closed and destroyed: %d objects deleted from the bucket, %s reclaimed\n", id, res.Storage.DeletedObjects, bytesText(res.Storage.DeletedBytes))
				printDestruction(a, *res.Storage.Destruction)
			}
			return err
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; in the audit log and the destruction record)")
	cmd.Flags().BoolVar(&shred, "shred", false, "destroy the matter: its key, every object and record of its storage")
	cmd.Flags().StringVar(&confirm, "confirm", "", "with --shred: the matter ID again")
	return cmd
}

func printDestruction(a *app, d api.Destruction) {
	a.printf("destruction record, signed by the gateway's audit key %s:\n  %s\n  signature %s\n", d.KeyID, d.Record, base64.StdEncoding.EncodeToString(d.Signature))
}

func matterDestructionCmd(a *app) *cobra.Command {
	var pubFile string
	cmd := &cobra.Command{
		Use:   "destruction <matter> [--public-key audit.pub]",
		Short: "a shredded matter's signed destruction record (verified with the gateway's audit public key)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			st, err := s.ShredState(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if st.Shredded.IsZero() {
				return fmt.Errorf("matter %s was not shredded at the gateway: %w", args[0], errNoRecord)
			}
			if st.Destruction == nil {
				return fmt.Errorf("matter %s: shredded, %d objects deleted so far, no destruction record yet (objects remain): %w", args[0], st.DeletedObjects, errNoRecord)
			}
			printDestruction(a, *st.Destruction)
			if pubFile == "" {
				return nil
			}
			b, err := os.ReadFile(pubFile)
			if err != nil {
				return usage(err)
			}
			pub, err := gateway.ParsePublicKey(b)
			if err != nil {
				return usage(err)
			}
			rec, err := lifecycle.VerifyDestruction(ed25519.PublicKey(pub), st.Destruction.Record, st.Destruction.Signature)
			if err != nil {
				return err
			}
			out, _ := json.MarshalIndent(rec, "  ", "  ")
			a.printf("signature verified with %s:\n  %s\n", pubFile, out)
			return nil
		}),
	}
	cmd.Flags().StringVar(&pubFile, "public-key", "", "the gateway's audit public key (PEM) to verify the signature with")
	return cmd
}

// errNoRecord: there is no destruction record (yet): exit 6.
var errNoRecord = fault.Errorf(fault.NotFound, "no destruction record")
