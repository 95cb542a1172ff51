package hostile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// memStore is a credential store holding one token.
type memStore struct {
	mu  sync.Mutex
	tok string
}

func (s *memStore) Get() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok, nil
}

func (s *memStore) Set(t string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok = t
}

// The OS credential store used to hold the user's Vault password, readable
// on macOS by any process of the user, good until the password changes. It
// now holds a renewable token (see `mattersync login`). When that token can
// no longer be used, the agent stops, says "run `mattersync login`", and
// resumes by itself once the user has logged in again.
func TestStoredLoginExpiresAndResumes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := kmstest.User{Name: testenv.RandomName("u-"), Password: testenv.RandomHex(16)}
	// A short token TTL, so the session notices the dead token at once
	// (at the token's maximum TTL it would be logging in again anyway).
	created, err := e.vault.Admin.CreateUser(ctx, u.Name, kms.UserOptions{Password: u.Password, TokenTTL: 2 * time.Second, TokenMaxTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	u.EntityID = created.EntityID
	e.vault.Grant(t, e.matter, u, kms.RoleRW)
	first, err := kms.IssueToken(ctx, e.vault.Config, e.vault.Userpass(u))
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{tok: first.Token}
	kcfg := e.vault.Config
	if testing.Verbose() {
		kcfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	kr, err := kms.Login(ctx, kcfg, kms.StoredTokenAuth{Read: store.Get})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	bob := e.agentWith(u, kr, nil)
	// The stored token dies (its max TTL reached, or revoked).
	if err := kms.RevokeToken(ctx, e.vault.Config, first.Token); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- bob.Run(rctx) }()
	eventually(t, "status asks for a login", func() error {
		if st := bob.Status(); !strings.Contains(st.Message, "mattersync login") {
			return fmt.Errorf("status %q: %q", st.State, st.Message)
		}
		return nil
	})
	// The user runs `mattersync login`: a new token in the store, with a
	// TTL long enough to outlast the session's backoff.
	if _, err := e.vault.Vault.Client(t).Logical().Write("auth/"+e.vault.Config.Layout.Userpass+"/users/"+u.Name,
		map[string]any{"token_ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	second, err := kms.IssueToken(ctx, e.vault.Config, e.vault.Userpass(u))
	if err != nil {
		t.Fatal(err)
	}
	store.Set(second.Token)
	select {
	case err := <-done:
		if !errors.Is(err, agent.ErrLoggedInAgain) {
			t.Fatalf("Run = %v, want ErrLoggedInAgain", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the agent did not notice the new login")
	}
}
