package agent_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
)

// within polls cond until it returns nil or d passes: for what the
// product promises within d (a colleague's copy read-only within 2 s). It
// measures nothing; d only decides failure.
func within(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after %v", what, err, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mode is nil if rel's permission bits are want.
func (a *testAgent) mode(rel string, want os.FileMode) error {
	fi, err := os.Stat(a.path(rel))
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != want {
		return fmt.Errorf("%s is %o, want %o", rel, fi.Mode().Perm(), want)
	}
	return nil
}

// openHere is nil if a's status lists rel as open by user on device.
func (a *testAgent) openHere(rel, user, device string, readOnly bool) error {
	for _, o := range a.Status().Open {
		if o.Path == rel && !o.Mine {
			if o.User != user || o.Device != device || o.ReadOnly != readOnly || o.Since.IsZero() {
				return fmt.Errorf("status shows %+v", o)
			}
			return nil
		}
	}
	return fmt.Errorf("status shows no open document %s: %+v", rel, a.Status().Open)
}

// Alice opens a document in Word (its owner file appears): Bob's copy
// becomes read-only within 2 s, stays so when Alice saves and Bob's agent
// downloads the new version, and is writable again (its previous mode)
// once Alice closes it. Alice's own copy is never marked, and the owner
// file is never synced.
func TestPresenceMarksColleaguesCopy(t *testing.T) {
	eachWorld(t, func(w *world) {
		t := w.t
		aliceUser, bobUser := w.member(kms.RoleRW), w.member(kms.RoleRW)
		alice := w.runningAgent(aliceUser)
		bob := w.runningAgent(bobUser)
		const doc = "Pleadings/Statement of Claim.docx"
		const owner = "Pleadings/~$atement of Claim.docx" // Word's: the first two characters replaced
		alice.write(doc, []byte("v1"))
		eventually(t, "the document at bob", func() error { return bob.hasFile(doc, []byte("v1")) })
		if err := bob.mode(doc, 0o600); err != nil {
			t.Fatal(err)
		}

		alice.write(owner, []byte("alice"))
		within(t, 2*time.Second, "bob's copy read-only", func() error { return bob.mode(doc, 0o400) })
		eventually(t, "bob's status", func() error { return bob.openHere(doc, aliceUser.Name, alice.cfg.DeviceName, true) })
		if err := alice.mode(doc, 0o644); err != nil {
			t.Fatalf("alice's own copy: %v", err)
		}

		// Alice saves: the new version reaches Bob, still read-only.
		alice.write(doc, []byte("v2, saved while open"))
		eventually(t, "v2 at bob", func() error { return bob.hasFile(doc, []byte("v2, saved while open")) })
		if err := bob.mode(doc, 0o400); err != nil {
			t.Fatalf("after the download: %v", err)
		}

		if err := os.Remove(alice.path(owner)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "bob's copy writable again", func() error { return bob.mode(doc, 0o600) })
		eventually(t, "bob's status", func() error {
			if o := bob.Status().Open; len(o) != 0 {
				return fmt.Errorf("still open: %+v", o)
			}
			return nil
		})
		if _, err := bob.read(owner); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the owner file reached bob: %v", err)
		}
		if n := w.auditCount("presence.open"); n != 1 {
			t.Fatalf("presence.open records: %d, want 1", n)
		}
		if n := w.auditCount("presence.close"); n != 1 {
			t.Fatalf("presence.close records: %d, want 1", n)
		}
	})
}

// Alice's laptop opens a document and crashes (no refresh, no close): the
// presence expires at the gateway (audited) and Bob's copy is writable
// again.
func TestPresenceOfACrashedLaptopExpires(t *testing.T) {
	eachWorld(t, func(w *world) {
		t := w.t
		aliceUser, bobUser := w.member(kms.RoleRW), w.member(kms.RoleRW)
		alice := w.agent(aliceUser)
		const doc = "Brief.docx"
		alice.write(doc, []byte("brief"))
		alice.sync()
		bob := w.runningAgent(bobUser)
		eventually(t, "the document at bob", func() error { return bob.hasFile(doc, []byte("brief")) })

		ctx := context.Background()
		idx, err := index.Open(ctx, filepath.Join(alice.cfg.DataDir, "index.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer idx.Close()
		f, err := idx.File(ctx, w.matter, doc)
		if err != nil {
			t.Fatal(err)
		}
		laptop, err := client.New(w.gateway, w.v.Login(t, aliceUser), client.Options{Device: "LAPTOP-7"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := laptop.OpenPresence(ctx, w.matter, f.FileID, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		within(t, 2*time.Second, "bob's copy read-only", func() error { return bob.mode(doc, 0o400) })
		eventually(t, "bob's status", func() error { return bob.openHere(doc, aliceUser.Name, "LAPTOP-7", true) })
		// The laptop is gone: nothing refreshes the presence.
		eventually(t, "bob's copy writable again", func() error { return bob.mode(doc, 0o600) })
		eventually(t, "the expiry audited", func() error {
			if w.auditCount("presence.expire") != 1 {
				return errors.New("no presence.expire record")
			}
			return nil
		})
	})
}
