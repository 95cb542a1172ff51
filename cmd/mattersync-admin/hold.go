package main

// The legal hold commands.

import (
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/gateway/api"
)

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
