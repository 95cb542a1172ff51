package hostile

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// wipeScene: bob, under wipe_on_revoke, has synced two files, then edits
// one and starts a new draft, neither uploaded yet.
func wipeScene(t *testing.T) (*env, kmstest.User, *testAgent) {
	e := newEnv(t)
	mallory := e.forger(e.member(kms.RoleRW))
	u := e.member(kms.RoleRW)
	bob := e.agent(u, func(c *agent.Config) { c.WipeOnRevoke, c.Gateway.PublicKey = true, e.gw.publicKeyPEM() })
	mallory.file("Synced.docx", []byte("synced"), 1, nil)
	mallory.file("Edited.docx", []byte("v1"), 1, nil)
	bob.sync()
	bob.write("Edited.docx", []byte("bob's unsynced edit"))
	bob.write("Drafts/Draft.docx", []byte("bob's unsynced draft"))
	return e, u, bob
}

// wantIntact fails if bob's folder lost anything.
func (a *testAgent) wantIntact() {
	a.e.t.Helper()
	for rel, want := range map[string]string{"Synced.docx": "synced", "Edited.docx": "bob's unsynced edit", "Drafts/Draft.docx": "bob's unsynced draft"} {
		if got, err := a.read(rel); err != nil || string(got) != want {
			a.e.t.Fatalf("%s = %q, %v: the folder was touched", rel, got, err)
		}
	}
}

// wantWipedWithQuarantine checks that the matter folder is gone, that the
// unsynced edit and draft are in the quarantine (and the synced file is
// not), and that the report lists all three.
func (a *testAgent) wantWipedWithQuarantine() {
	t := a.e.t
	t.Helper()
	if _, err := os.Stat(a.folder); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("matter folder still there: %v", err)
	}
	stamps, _ := filepath.Glob(filepath.Join(a.cfg.DataDir, "quarantine", "*"))
	if len(stamps) != 1 {
		t.Fatalf("quarantine folders: %v", stamps)
	}
	q := filepath.Join(stamps[0], filepath.Base(a.folder))
	for rel, want := range map[string]string{"Edited.docx": "bob's unsynced edit", "Drafts/Draft.docx": "bob's unsynced draft"} {
		if got, err := os.ReadFile(filepath.Join(q, filepath.FromSlash(rel))); err != nil || string(got) != want {
			t.Errorf("quarantined %s = %q, %v", rel, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join(q, "Synced.docx")); err == nil {
		t.Error("a synced file was quarantined")
	}
	report, err := os.ReadFile(filepath.Join(stamps[0], "removed.txt"))
	for _, want := range []string{"removed (synced)\t" + filepath.Base(a.folder) + "/Synced.docx", "quarantined (unsynced)\t" + filepath.Base(a.folder) + "/Edited.docx", "Drafts/Draft.docx"} {
		if err != nil || !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q: %v\n%s", want, err, report)
		}
	}
}

// Whatever answers at the gateway's URL (a compromised gateway, a proxy, a
// DNS or captive-portal hijack) says "revoked". The agent stops and drops
// its keys (harmless), but the folders stay: Vault must refuse the login
// and the gateway must sign a statement over the agent's nonce with the
// key in gateway.public_key. An impostor without that key cannot wipe even
// once Vault refuses; the real gateway's statement then lets the wipe go
// ahead, unsynced work quarantined first.
func TestGatewayAloneCannotWipe(t *testing.T) {
	e, u, bob := wipeScene(t)
	e.gw.setRevoked(true)
	if _, err := bob.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("sync = %v, want ErrRevoked", err)
	}
	if st := bob.Status(); st.State != "revoked" || !strings.Contains(st.Message, "once Vault confirms") {
		t.Fatalf("status: %q %q", st.State, st.Message)
	}
	bob.wantIntact()
	if _, err := bob.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("second sync = %v", err)
	}
	bob.wantIntact()
	// IT's `user revoke` reaches Vault too, but whatever answers at the
	// gateway's address has no signed statement: nothing is removed.
	if _, err := e.vault.Admin.Revoke(context.Background(), u.Name, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("sync after Vault revoke = %v", err)
	}
	bob.wantIntact()
	// The gateway that holds the key signs: now the wipe goes ahead.
	e.gw.signStatements(u.EntityID)
	if _, err := bob.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("sync with a signed statement = %v", err)
	}
	bob.wantWipedWithQuarantine()
	if msg := bob.Status().Message; !strings.Contains(msg, "quarantine") {
		t.Fatalf("status does not say where the unsynced work went: %q", msg)
	}
}

// A statement signed for another user, or with another key, wipes nothing.
func TestForeignRevocationStatementCannotWipe(t *testing.T) {
	e, u, bob := wipeScene(t)
	e.gw.setRevoked(true)
	e.gw.signStatements("some-other-entity")
	if _, err := e.vault.Admin.Revoke(context.Background(), u.Name, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("sync = %v, want ErrRevoked", err)
	}
	bob.wantIntact()
	e.gw.mu.Lock()
	_, e.gw.key, _ = ed25519.GenerateKey(rand.Reader) // not the key bob trusts
	e.gw.statementsFor = u.EntityID
	e.gw.mu.Unlock()
	if _, err := bob.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("sync = %v, want ErrRevoked", err)
	}
	bob.wantIntact()
}

// The running agent keeps asking Vault (backing off) after the gateway's
// "revoked", and wipes once Vault confirms.
func TestRunningAgentWipesWhenVaultConfirms(t *testing.T) {
	e, u, bob := wipeScene(t)
	e.gw.setRevoked(true)
	e.gw.signStatements(u.EntityID)
	defer bob.runUntilRevoked()()
	eventually(t, "agent revoked", func() error {
		if st := bob.Status(); st.State != "revoked" {
			return fmt.Errorf("state %q", st.State)
		}
		return nil
	})
	bob.wantIntact()
	if _, err := e.vault.Admin.Revoke(context.Background(), u.Name, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "wipe report written", func() error {
		if r, _ := filepath.Glob(filepath.Join(bob.cfg.DataDir, "quarantine", "*", "removed.txt")); len(r) == 0 {
			return errors.New("no report yet")
		}
		return nil
	})
	bob.wantWipedWithQuarantine()
}

// runUntilRevoked runs the agent in the background; the function it
// returns stops it and checks that it ended revoked.
func (a *testAgent) runUntilRevoked() func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; !errors.Is(err, agent.ErrRevoked) {
			a.e.t.Errorf("Run = %v, want ErrRevoked", err)
		}
	}
}

// eventually polls f until it succeeds, for at most a minute.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Vault refuses first (IT disabled the entity; the gateway's deny list
// does not say so yet): the agent stops and drops its keys, but an
// expired or refused login alone never removes anything. Once the
// gateway confirms in a signed statement, asked with the identity token
// the agent held when it stopped, the wipe goes ahead.
func TestVaultRefusesFirstThenGatewayConfirms(t *testing.T) {
	e, u, bob := wipeScene(t)
	if _, err := e.vault.Admin.Revoke(context.Background(), u.Name, nil); err != nil {
		t.Fatal(err)
	}
	defer bob.runUntilRevoked()()
	eventually(t, "agent stopped on Vault's refusal", func() error {
		if st := bob.Status(); st.State != "revoked" || !strings.Contains(st.Message, "mattersync login") {
			return fmt.Errorf("state %q: %q", st.State, st.Message)
		}
		return nil
	})
	time.Sleep(6 * time.Second) // the agent's first look at the gateway since
	bob.wantIntact()
	e.gw.setRevoked(true)
	e.gw.signStatements(u.EntityID)
	eventually(t, "wipe report written", func() error {
		if r, _ := filepath.Glob(filepath.Join(bob.cfg.DataDir, "quarantine", "*", "removed.txt")); len(r) == 0 {
			return errors.New("no report yet")
		}
		return nil
	})
	bob.wantWipedWithQuarantine()
	if st := bob.Status(); !strings.Contains(st.Message, "access revoked by IT") {
		t.Fatalf("status after the wipe: %q", st.Message)
	}
}
