package main

import (
	"strings"
	"testing"
)

// Every bad flag of share is refused before anything is read or sent, with
// a message naming the problem.
func TestShareFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "give the recipient's e-mail address with --to"},
		{[]string{"--to", "client"}, `--to "client" is not an e-mail address`},
		{[]string{"--to", "Client <client@example.com>"}, "not an e-mail address"},
		{[]string{"--to", "client@example.com, other@example.com"}, "not an e-mail address"},
		{[]string{"--to", "client@example.com\r\nBcc: x@example.com"}, "not an e-mail address"},
		{[]string{"--to", "client@localhost"}, "not an e-mail address"},
		{[]string{"--to", "client@example.com", "--expires", "a week"}, `--expires "a week" is not a duration`},
		{[]string{"--to", "client@example.com", "--expires", "7days"}, "is not a duration"},
		{[]string{"--to", "client@example.com", "--expires", "-3d"}, "is not a duration"},
		{[]string{"--to", "client@example.com", "--expires", "1m"}, "too short"},
		{[]string{"--to", "client@example.com", "--expires", "91d"}, "too long: a link lives at most 90 days"},
		{[]string{"--to", "client@example.com", "--max-downloads", "0"}, "at least one download"},
		{[]string{"--to", "client@example.com", "--max-downloads", "101"}, "--max-downloads 101 is too many: at most 100"},
		{[]string{"--to", "client@example.com", "--max-downloads", "many"}, `invalid argument "many"`},
	} {
		args := append([]string{"share", "--config", "/nonexistent/agent.yaml", "Brief.docx"}, c.args...)
		_, err := run(t, "", args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("share %q: %v, want %q", c.args, err, c.want)
		}
	}
}
