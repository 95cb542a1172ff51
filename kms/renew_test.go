package kms_test

import (
	"testing"
	"time"

	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestTokenRenewal: a Keyring keeps its Vault token alive in the background
// well past the token's TTL, by renewing it, and stops when closed.
func TestTokenRenewal(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a token TTL to pass")
	}
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	u := kmstest.User{Name: testenv.RandomName("u-"), Password: testenv.RandomHex(12)}
	if _, err := env.Admin.CreateUser(ctx, u.Name, kms.UserOptions{Password: u.Password, TokenTTL: 3 * time.Second, TokenMaxTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	var calls counter
	cfg := env.Config
	cfg.WrapTransport = calls.wrap
	k, err := kms.Login(ctx, cfg, env.Userpass(u))
	if err != nil {
		t.Fatal(err)
	}
	// Wait for three renewals: at least two TTLs without a fresh login.
	deadline := time.Now().Add(time.Minute)
	for calls.n("/renew-self") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no renewals in a minute: %v", calls.all())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := k.RefreshIdentityToken(ctx); err != nil {
		t.Fatalf("after %d renewals: %v", calls.n("/renew-self"), err)
	}
	if n := calls.n("/login/"); n != 1 {
		t.Errorf("%d logins, want 1 (renewal, not re-login)", n)
	}
	k.Close()
}
