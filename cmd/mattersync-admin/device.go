package main

// device list: the device inventory (docs/OPERATIONS.md, "Device
// inventory").

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/gateway/api"
)

func deviceCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "device", Short: "the device inventory: each user's agents as the gateway knows them"}
	cmd.AddCommand(deviceListCmd(a))
	return cmd
}

func deviceListCmd(a *app) *cobra.Command {
	var user, stale, formatName string
	var revokedSeen bool
	cmd := &cobra.Command{
		Use:   "list [--user U] [--stale 14d] [--revoked-seen] [--format table|csv|json]",
		Short: "list devices: host, OS, agent version, last seen, last sync, disk encryption, wipe state",
		Long: `Lists every device (agent install) that reported to the gateway, per user:
host name, OS, agent version, when it was last seen and last synced
successfully, whether its disk is encrypted (BitLocker, FileVault, LUKS, or
"unknown" when the agent could not tell), whether it wipes its matter folders
on revocation and whether it did. --stale 14d keeps the agents not seen for
14 days; --revoked-seen the devices of revoked users that still made a
request after the revocation.`,
		Args: args(cobra.NoArgs),
		RunE: withGatewayVault(a, func([]string) bool { return user != "" }, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			f := admin.DeviceFilter{User: user, RevokedSeen: revokedSeen}
			if stale != "" {
				d, err := parseAge(stale)
				if err != nil {
					return err
				}
				f.Stale = d
			}
			switch formatName {
			case "table", "csv", "json":
			default:
				return usage(fmt.Errorf("--format must be table, csv or json, not %q", formatName))
			}
			ds, err := s.Devices(cmd.Context(), f)
			if err != nil {
				return err
			}
			return printDevices(a, ds, formatName)
		}),
	}
	cmd.Flags().StringVar(&user, "user", "", "only this user's devices")
	cmd.Flags().StringVar(&stale, "stale", "", "only devices not seen for this long (e.g. 14d, 36h)")
	cmd.Flags().BoolVar(&revokedSeen, "revoked-seen", false, "only devices of revoked users seen after the revocation")
	cmd.Flags().StringVar(&formatName, "format", "table", "table, csv or json")
	return cmd
}

// parseAge reads a duration: whole days (14d) or a Go duration (36h).
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 && n < 100000 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, usage(fmt.Errorf("--stale %q is not a duration (e.g. 14d or 36h)", s))
}

var deviceColumns = []string{"user", "host", "os", "agent_version", "last_seen", "last_sync", "disk_encryption", "wipe_on_revoke", "wiped", "revoked", "revoked_seen", "device_id", "entity"}

func deviceRow(d api.Device) []string {
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	enc := d.DiskEncryption.State
	if d.DiskEncryption.Method != "" {
		enc += " (" + d.DiskEncryption.Method + ")"
	} else if d.DiskEncryption.Detail != "" {
		enc += " (" + d.DiskEncryption.Detail + ")"
	}
	wipe := "no"
	if d.WipeOnRevoke {
		wipe = "yes"
	}
	rseen := when(d.RevokedSeen)
	if d.RevokedStillSeen() {
		rseen += " STILL SEEN"
	}
	return []string{d.User, d.Host, d.OS, d.AgentVersion, when(d.LastSeen), when(d.LastSync), enc, wipe, when(d.Wiped), when(d.Revoked), rseen, d.DeviceID, d.Entity}
}

func printDevices(a *app, ds []api.Device, formatName string) error {
	switch formatName {
	case "json":
		if ds == nil {
			ds = []api.Device{}
		}
		e := json.NewEncoder(a.stdout)
		e.SetIndent("", "  ")
		return e.Encode(api.Devices{Devices: ds})
	case "csv":
		w := admin.NewCSVWriter(a.stdout)
		w.Write(deviceColumns)
		for _, d := range ds {
			row := deviceRow(d)
			for i, c := range row {
				if c == "-" {
					row[i] = "" // never: the table's dash, an empty cell in CSV
				}
			}
			w.Write(row)
		}
		return w.Flush()
	}
	if len(ds) == 0 {
		a.printf("no devices\n")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(deviceColumns[:11], "\t")))
	for _, d := range ds {
		fmt.Fprintln(tw, strings.Join(deviceRow(d)[:11], "\t"))
	}
	return tw.Flush()
}
