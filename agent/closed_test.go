package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/kms"
)

// Issue 13: a matter the firm closes (mattersync-admin matter close tells
// the gateway first, then removes the members) stops syncing on every
// laptop; once Vault no longer lists it either, its folder is kept or
// removed as on_matter_closed says (default keep), not as on_access_lost
// says.
func TestMatterClosed(t *testing.T) {
	for _, policy := range []string{"", agent.ClosedRemove} {
		t.Run("policy="+policy, func(t *testing.T) {
			eachWorld(t, func(w *world) {
				alice := w.agent(w.member(kms.RoleRW))
				alice.write("Brief.docx", []byte("brief"))
				alice.sync()
				u := w.member(kms.RoleRW)
				cfg := w.config(u, w.t.TempDir(), w.t.TempDir())
				if policy != "" {
					cfg.OnMatterClosed = policy
				}
				bob := w.agentWith(u, cfg)
				bob.sync()
				bob.wantFile("Brief.docx", []byte("brief"))

				rec := &audit.Record{Time: time.Now(), Entity: "ent-it", User: "it", Matter: w.matter, Action: "admin.close", Result: audit.ResultOK, Status: 200, RequestID: "r"}
				if _, _, err := w.gw.Stores.Closed.CloseMatter(context.Background(), w.matter, "it", "file closed", time.Now(), rec); err != nil {
					w.t.Fatal(err)
				}
				bob.write("Late.docx", []byte("written after the close"))
				if sum := bob.sync(); sum.Uploaded != 0 || sum.Deleted != 0 {
					w.t.Fatalf("sync of a closed matter: %+v", sum)
				}
				check := func(when string) {
					w.t.Helper()
					st := bob.matterStatus()
					if st.State != "closed" || st.Role != "" || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "closed by the firm on") {
						w.t.Fatalf("%s: status %+v", when, st)
					}
					_, err := os.Stat(bob.folder)
					if policy == agent.ClosedRemove {
						if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(st.Errors[0], "removed") {
							w.t.Fatalf("%s: remove: folder %v, status %q", when, err, st.Errors[0])
						}
						return
					}
					bob.wantFile("Brief.docx", []byte("brief"))
					bob.wantFile("Late.docx", []byte("written after the close"))
					if !strings.Contains(st.Errors[0], "kept") {
						w.t.Fatalf("%s: keep: status %q", when, st.Errors[0])
					}
				}
				// The gateway's word alone (nothing signs it) pauses the
				// matter and touches no file, whatever the policy.
				if st := bob.matterStatus(); st.State != "paused" || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "closed it on") {
					w.t.Fatalf("closed at the gateway only: status %+v", st)
				}
				bob.wantFile("Brief.docx", []byte("brief"))
				bob.wantFile("Late.docx", []byte("written after the close"))
				// The members go next (Vault confirms): on_matter_closed
				// applies, not on_access_lost (quarantine by default).
				w.v.Remove(w.t, w.matter, u)
				bob.sync()
				check("member removed")
				bob.sync()
				check("again")
				alice.sync()
				if st := alice.matterStatus(); st.State != "paused" {
					w.t.Fatalf("alice, still a member in Vault: %+v", st)
				}
				alice.wantFile("Brief.docx", []byte("brief"))
				if n := w.auditCount("file.commit"); n != 1 {
					w.t.Fatalf("%d commits: the late file went up", n)
				}
			})
		})
	}
}

// A running agent hears of the close from the gateway's refusal (its
// pass answered 410 matter_closed), asks the gateway again at once and
// pauses the matter (Vault still lists it: its folder left as it is).
func TestRunningAgentMatterClosed(t *testing.T) {
	eachWorld(t, func(w *world) {
		u := w.member(kms.RoleRW)
		bob := w.agent(w.member(kms.RoleRW))
		alice := w.runningAgent(u)
		alice.write("Before.txt", []byte("before the close"))
		eventually(w.t, "Before.txt at bob", func() error { bob.sync(); return bob.hasFile("Before.txt", []byte("before the close")) })

		rec := &audit.Record{Time: time.Now(), Entity: "ent-it", User: "it", Matter: w.matter, Action: "admin.close", Result: audit.ResultOK, Status: 200, RequestID: "r"}
		if _, _, err := w.gw.Stores.Closed.CloseMatter(context.Background(), w.matter, "it", "file closed", time.Now(), rec); err != nil {
			w.t.Fatal(err)
		}
		alice.write("After.txt", []byte("after the close"))
		eventually(w.t, "alice's matter paused", func() error {
			if st := alice.matterStatus(); st.State != "paused" {
				return fmt.Errorf("matter state %q", st.State)
			}
			return nil
		})
		alice.wantFile("After.txt", []byte("after the close"))
		alice.wantFile("Before.txt", []byte("before the close"))
	})
}
