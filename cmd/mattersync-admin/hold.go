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

// holdLine describes one hold state: the current one, a list entry or a
// history entry.
func holdLine(h api.Hold) string {
	var b strings.Builder
	if h.On {
		b.WriteString("ON LEGAL HOLD")
	} else {
		b.WriteString("released")
	}
	if !h.Time.IsZero() {
		b.WriteString(" " + h.Time.UTC().Format(time.RFC3339))
	}
	if h.ChangedBy != "" {
		b.WriteString(" by " + h.ChangedBy)
	}
	if h.Reason != "" {
		b.WriteString(": " + h.Reason)
	}
	if h.Case != "" {
		b.WriteString(" (case " + h.Case + ")")
	}
	return b.String()
}

func printHold(a *app, h api.Hold) {
	if !h.On && h.ChangedBy == "" {
		a.printf("matter %s: no legal hold\n", h.Matter)
		return
	}
	a.printf("matter %s: %s\n", h.Matter, holdLine(h))
}

func holdCmd(a *app, what string) *cobra.Command {
	var req api.HoldRequest
	var noWait bool
	short := map[string]string{
		"on":      "put a matter on legal hold: deletes, purges and shredding are refused",
		"off":     "release a matter's legal hold",
		"show":    "show a matter's legal hold",
		"history": "every hold on and off of a matter: who, when, why, which case",
	}[what]
	cmd := &cobra.Command{
		Use:   what + " <matter>",
		Short: short,
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			var h api.Hold
			var err error
			switch what {
			case "on", "off":
				if strings.TrimSpace(req.Reason) == "" {
					return usage(errors.New("--reason is required (e.g. the instruction, or why the hold ends)"))
				}
				if what == "on" {
					h, err = s.SetHold(cmd.Context(), args[0], req)
				} else {
					h, err = s.ReleaseHold(cmd.Context(), args[0], req)
				}
				if err != nil {
					return err
				}
				printHold(a, h)
				if noWait {
					a.printf("the gateway carries it to the storage by itself (follow it with `mattersync-admin hold storage %s`)\n", args[0])
					return nil
				}
				st, err := s.WaitHoldStorage(cmd.Context(), args[0], what == "on", admin.RunOptions{})
				if err == nil {
					printHoldStorage(a, st)
				}
				return err
			case "history":
				hs, err := s.HoldHistory(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if len(hs) == 0 {
					a.printf("matter %s: no hold recorded\n", args[0])
				}
				for _, h := range hs {
					a.printf("%s\n", holdLine(h))
				}
				return nil
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
	if what == "on" || what == "off" {
		cmd.Flags().StringVar(&req.Reason, "reason", "", "why (required; recorded with the hold, in its history and in the audit log)")
		cmd.Flags().StringVar(&req.Case, "case", "", "the case or instruction reference")
		cmd.Flags().BoolVar(&noWait, "no-wait", false, "do not wait for the storage's legal hold (S3 Object Lock) on every object")
	}
	return cmd
}

func holdListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "every matter on legal hold",
		Args:  args(cobra.NoArgs),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			hs, err := s.Holds(cmd.Context())
			if err != nil {
				return err
			}
			if len(hs) == 0 {
				a.printf("no matter is on legal hold\n")
			}
			for _, h := range hs {
				a.printf("%s  %s\n", h.Matter, holdLine(h))
			}
			return nil
		}),
	}
}

func printHoldStorage(a *app, h api.HoldStorage) {
	switch h.State {
	case api.HoldStorageApplied:
		a.printf("storage: S3 legal hold set on every object of matter %s (%d in the last pass); the storage refuses their deletion\n", h.Matter, h.Objects)
	case api.HoldStorageNone:
		if h.On {
			a.printf("storage: matter %s has no object under legal hold yet\n", h.Matter)
		} else {
			a.printf("storage: no object of matter %s is under legal hold\n", h.Matter)
		}
	case api.HoldStorageFailed:
		a.printf("storage: the legal hold pass of matter %s FAILED after %d objects: %s (tried again every minute)\n", h.Matter, h.Objects, h.Error)
	default:
		a.printf("storage: %s legal holds on matter %s's objects: %d done so far\n", h.State, h.Matter, h.Objects)
	}
}

func holdStorageCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "storage <matter>",
		Short: "how far the matter's objects carry the storage's legal hold (S3 Object Lock)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			h, err := s.HoldStorage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printHoldStorage(a, h)
			return nil
		}),
	}
}
