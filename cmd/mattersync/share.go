package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/agent"
)

func newShareCmd(opts *options) *cobra.Command {
	var to, expires string
	var downloads int
	cmd := &cobra.Command{
		Use:   "share <path> --to <address> [--expires 7d] [--max-downloads 3]",
		Short: "Send a synced file to someone outside the firm as an end-to-end encrypted link",
		Long: `Share the committed version of a file with one outside address. The file is
encrypted once more under a fresh key that is only in the link (after the #):
the gateway stores the encrypted copy and never sees the key or the name. The
recipient opens the link, proves the address with a code e-mailed to it, and
the browser decrypts and saves the file. Every step is on the audit record.

Only a file whose bytes are synced can be shared: wait for sync after saving.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := agent.ShareOptions{To: to, MaxDownloads: downloads}
			if cmd.Flags().Changed("max-downloads") && downloads < 1 {
				return fmt.Errorf("--max-downloads %d: a link must allow at least one download", downloads)
			}
			if expires != "" {
				var err error
				if o.Expires, err = agent.ParseShareExpiry(expires); err != nil {
					return err
				}
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if done, err := throughAgent(opts, func(dataDir string) error {
				link, err := agent.ShareThroughAgent(cmd.Context(), dataDir, args[0], o)
				if err == nil {
					printShare(cmd.OutOrStdout(), link)
				}
				return err
			}); done {
				return err
			}
			return withAgent(cmd, opts, func(a *agent.Agent) error {
				link, err := a.Share(cmd.Context(), args[0], o)
				if err != nil {
					return err
				}
				printShare(cmd.OutOrStdout(), link)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the recipient's e-mail address (the code to open the link is sent there)")
	cmd.Flags().StringVar(&expires, "expires", "", "how long the link works: 7d, 36h, 90m (default: the gateway's, 7d unless IT set another; at most what it allows, 30d unless IT set another)")
	cmd.Flags().IntVar(&downloads, "max-downloads", 0, "how many times the file can be downloaded (default: the gateway's, 3 unless IT set another; at most what it allows, 20 unless IT set another)")
	return cmd
}

// printShare prints the link on a line of its own (easy to copy, the key
// only in its fragment) and its bounds. The recipient address is the
// gateway's echo of what was given: escaped like any text from elsewhere.
func printShare(w io.Writer, l agent.ShareLink) {
	fmt.Fprintln(w, l.Link)
	fmt.Fprintf(w, "for %s, version %d, until %s, at most %d download%s\n", agent.SafeText(l.Recipient), l.Version,
		l.Expires.Local().Format("2006-01-02 15:04"), l.MaxDownloads, plural(l.MaxDownloads))
	fmt.Fprintln(w, "Send the link to the recipient only: whoever has it and the code mailed to that address can open the file.")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
