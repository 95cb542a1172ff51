package agent_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
)

// Issue 21: the agent's log recorded no per-file event, so the helpdesk
// could not answer "why didn't my file sync". Every file decision is
// logged at info with the matter and the path: uploads, downloads, trash
// moves, a delete refused by a legal hold, a file skipped and why.
func TestEveryFileDecisionIsLogged(t *testing.T) {
	eachWorld(t, func(w *world) {
		ua, ub := w.member(kms.RoleRW), w.member(kms.RoleRW)
		alice, alog := w.loggedAgent(ua, w.config(ua, w.t.TempDir(), w.t.TempDir()))
		bob, blog := w.loggedAgent(ub, w.config(ub, w.t.TempDir(), w.t.TempDir()))
		alice.sync()
		bob.sync()
		alice.write("Brief.docx", []byte("brief"))
		alice.write("Memo.txt", []byte("memo"))
		alice.write("Cafe\u0301.txt", []byte("a name copied from an old Mac")) // not NFC: skipped
		alice.sync()
		bob.sync()
		if err := os.Remove(alice.path("Memo.txt")); err != nil {
			w.t.Fatal(err)
		}
		alice.sync()
		bob.sync()

		admin := w.v.User(w.t, true)
		gw, err := client.New(w.gateway, w.v.Login(w.t, admin), client.Options{Device: "it"})
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := gw.SetHold(context.Background(), w.matter, api.HoldRequest{Reason: "litigation expected"}); err != nil {
			w.t.Fatal(err)
		}
		if err := os.Remove(alice.path("Brief.docx")); err != nil {
			w.t.Fatal(err)
		}
		alice.sync()
		alice.wantFile("Brief.docx", []byte("brief"))

		m := "matter=" + w.matter
		for _, c := range []struct {
			log  *logBuf
			subs []string
		}{
			{alog, []string{"file uploaded", m, "path=Brief.docx"}},
			{alog, []string{"local delete sent", m, "path=Memo.txt"}},
			{alog, []string{"file skipped", m, "path=Cafe\u0301.txt", "NFC"}},
			{alog, []string{"local delete refused by a legal hold", m, "path=Brief.docx"}},
			{alog, []string{"file skipped", m, "path=Brief.docx", "legal hold"}},
			{alog, []string{"file restored from the gateway", m, "path=Brief.docx"}},
			{blog, []string{"file downloaded", m, "path=Brief.docx"}},
			{blog, []string{"file moved to the trash", m, "path=Memo.txt"}},
		} {
			if len(c.log.lines(c.subs...)) == 0 {
				w.t.Errorf("no log line with %q", c.subs)
			}
		}
		if w.t.Failed() {
			w.t.Logf("alice:\n%s\nbob:\n%s", alog, blog)
		}
		// The log is the laptop's: it names files, never holds content.
		if strings.Contains(alog.String()+blog.String(), "memo") {
			w.t.Error("file content in the log")
		}
	})
}
