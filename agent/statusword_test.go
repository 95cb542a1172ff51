package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/kms"
)

// Issue 21: with the gateway down the lawyer's status showed the raw error
// (an address, "connection refused"). It says what happens, in words.
func TestStatusSaysSentences(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		w.gw.Down()
		if _, err := alice.SyncOnce(context.Background()); err == nil {
			w.t.Fatal("sync with the gateway down succeeded")
		}
		st := alice.matterStatus()
		if st.State != "error" || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "cannot be reached") {
			w.t.Fatalf("status with the gateway down: %+v", st)
		}
		for _, raw := range []string{"http", "127.0.0.1", "dial", "refused", "gateway:", "503"} {
			if strings.Contains(st.Errors[0], raw) {
				w.t.Fatalf("status shows the raw %q: %q", raw, st.Errors[0])
			}
		}
		w.gw.Up()
		alice.sync()
		if st := alice.matterStatus(); st.State != "idle" || len(st.Errors) != 0 {
			w.t.Fatalf("back online: %+v", st)
		}
	})
}

// After a removal a running agent's status shows the matter removed, with
// no role, rather than a refusal under the old role.
func TestRunningAgentShowsRemoval(t *testing.T) {
	eachWorld(t, func(w *world) {
		u := w.member(kms.RoleRW)
		alice := w.agent(u)
		before := alice.matterStatus().LastSync
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- alice.Run(ctx) }()
		defer func() { cancel(); <-done }()
		eventually(w.t, "a first pass of the running agent", func() error {
			if st := alice.matterStatus(); st.State != "idle" || st.Role != "rw" || !st.LastSync.After(before) {
				return fmt.Errorf("%+v", st)
			}
			return nil
		})
		w.v.Remove(w.t, w.matter, u)
		alice.write("After.txt", []byte("written after the removal")) // the pass it wakes is refused
		eventually(w.t, "the removal in status", func() error {
			st := alice.matterStatus()
			for _, e := range st.Errors {
				if strings.Contains(e, "gateway:") || strings.Contains(e, "403") || strings.Contains(e, "forbidden") {
					w.t.Fatalf("status shows a raw refusal: %+v", st)
				}
			}
			if st.State != "removed" || st.Role != "" || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "access removed by the firm") {
				return fmt.Errorf("%+v", st)
			}
			return nil
		})
	})
}
