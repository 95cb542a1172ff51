package kms_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// A token issued for keeping outlives the sessions that use it (they
// renew it but never revoke it), each login reads the store again, and a
// missing token is a Denied login error asking for `mattersync login`.
func TestIssueTokenAndStoredTokenAuth(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	u := env.User(t, false)
	m := env.Matter(t)
	env.Grant(t, m, u, kms.RoleRW)
	tok, err := kms.IssueToken(ctx, env.Config, env.Userpass(u))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Token == "" || !tok.Renewable || tok.EntityID != u.EntityID {
		t.Fatalf("issued %v (renewable %v)", tok, tok.Renewable)
	}
	if strings.Contains(tok.String(), tok.Token) {
		t.Fatal("String shows the token")
	}
	stored := tok.Token
	auth := kms.StoredTokenAuth{Read: func() (string, error) { return stored, nil }}
	for range 2 { // the first session's Close must not revoke the token
		k, err := kms.Login(ctx, env.Config, auth)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := k.CurrentKey(ctx, m); err != nil {
			t.Fatal(err)
		}
		k.Close()
	}
	if err := kms.RevokeToken(ctx, env.Config, tok.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := kms.Login(ctx, env.Config, auth); kms.KindOf(err) != kms.Denied {
		t.Fatalf("login with a revoked token: %v", err)
	}
	stored = ""
	if _, err := kms.Login(ctx, env.Config, auth); kms.KindOf(err) != kms.Denied || !strings.Contains(err.Error(), "mattersync login") {
		t.Fatalf("login without a stored token: %v", err)
	}
	failing := kms.StoredTokenAuth{Read: func() (string, error) { return "", errors.New("keychain locked") }}
	if _, err := kms.Login(ctx, env.Config, failing); kms.KindOf(err) != kms.Denied || !strings.Contains(err.Error(), "keychain locked") {
		t.Fatalf("login with a failing store: %v", err)
	}
}
