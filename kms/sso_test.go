package kms_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/mattersync/mattersync/internal/idp"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// A person signs in through the identity provider (real Hydra) in a
// scripted browser, answers Vault's MFA with their authenticator app's
// code, and gets a Vault token of their own entity: identity tokens carry
// their name and their matter groups.
func TestSSOSignIn(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	sso := env.SSO(t, testenv.Hydra(t))
	alice := sso.User(t)
	m := env.Matter(t)
	env.Grant(t, m, alice.User, kms.RoleRW)

	tok, err := kms.IssueToken(ctx, env.Config, sso.Auth(t, alice, nil))
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if tok.EntityID != alice.EntityID {
		t.Fatalf("signed in as entity %s, want alice's %s: the sign-in did not reach her entity", tok.EntityID, alice.EntityID)
	}
	k, err := kms.Login(ctx, env.Config, kms.TokenAuth{Token: tok.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	it, err := k.IdentityToken(ctx)
	if err != nil {
		t.Fatalf("identity token after sign-in: %v", err)
	}
	if it.Username != alice.Name {
		t.Fatalf("identity token username %q, want %q", it.Username, alice.Name)
	}
	ms, err := k.Matters(ctx)
	if err != nil || len(ms) != 1 || ms[0].ID != m {
		t.Fatalf("matters after sign-in: %v %v", ms, err)
	}
	if _, _, err := k.CurrentKey(ctx, m); err != nil {
		t.Fatalf("the signed-in person cannot read the matter's key: %v", err)
	}
	st, err := env.Admin.MFA(ctx, alice.Name)
	if err != nil || !st.Enforced || !st.Enrolled {
		t.Fatalf("MFA status %+v, %v; want enforced and enrolled", st, err)
	}
	// Init with the same OIDC and MFA settings changes nothing but the
	// client secret, which Vault never shows.
	steps, err := env.Admin.Init(ctx, kms.InitOptions{DryRun: true,
		OIDC: &kms.OIDCOptions{DiscoveryURL: sso.Hydra.Issuer, ClientID: sso.Client.ID}, MFA: &kms.MFAOptions{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if !strings.HasPrefix(s.Detail, "unchanged") {
			t.Errorf("init again: %s", s)
		}
	}
}

// Every refusal says what happened and what to do, and yields no token.
func TestSSORefusals(t *testing.T) {
	env := kmstest.Setup(t)
	h := testenv.Hydra(t)
	sso := env.SSO(t, h)
	mount := env.Config.Layout.OIDCMount()
	issue := func(t *testing.T, auth kms.Authenticator) error {
		t.Helper()
		tok, err := kms.IssueToken(testCtx(t), env.Config, auth)
		if err == nil {
			t.Fatalf("signed in (%v), want a refusal", tok)
		}
		if kms.KindOf(err) != kms.Denied && kms.KindOf(err) != kms.Invalid {
			t.Errorf("kind %v, want Denied or Invalid: %v", kms.KindOf(err), err)
		}
		t.Log(err)
		return err
	}
	want := func(t *testing.T, err error, words ...string) {
		t.Helper()
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}
	code := func(c string) func(context.Context, kms.MFAMethod) (string, error) {
		return func(context.Context, kms.MFAMethod) (string, error) { return c, nil }
	}

	t.Run("wrong code", func(t *testing.T) {
		u := sso.User(t)
		wrong, err := totp.GenerateCode(u.TOTPSecret, time.Now().Add(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		err = issue(t, kms.MFAAuth{Auth: kms.OIDCAuth{Mount: mount, Browse: sso.Browser(u, nil, nil)}, Passcode: code(wrong)})
		want(t, err, "code is wrong")
	})
	t.Run("replayed code", func(t *testing.T) {
		u := sso.User(t)
		c := u.Code(t)
		if _, err := kms.IssueToken(testCtx(t), env.Config, kms.MFAAuth{Auth: kms.OIDCAuth{Mount: mount, Browse: sso.Browser(u, nil, nil)}, Passcode: code(c)}); err != nil {
			t.Fatalf("first sign-in: %v", err)
		}
		err := issue(t, kms.MFAAuth{Auth: kms.OIDCAuth{Mount: mount, Browse: sso.Browser(u, nil, nil)}, Passcode: code(c)})
		want(t, err, "already used")
	})
	t.Run("not enrolled", func(t *testing.T) {
		u := sso.UserNotEnrolled(t)
		err := issue(t, kms.MFAAuth{Auth: kms.OIDCAuth{Mount: mount, Browse: sso.Browser(u, nil, nil)}, Passcode: code("123456")})
		want(t, err, "not enrolled", "ask IT", "user mfa enroll")
	})
	t.Run("reset", func(t *testing.T) {
		u := sso.User(t)
		if err := env.Admin.ResetMFA(testCtx(t), u.Name); err != nil {
			t.Fatal(err)
		}
		if st, err := env.Admin.MFA(testCtx(t), u.Name); err != nil || st.Enrolled {
			t.Fatalf("after reset: %+v %v", st, err)
		}
		err := issue(t, kms.MFAAuth{Auth: kms.OIDCAuth{Mount: mount, Browse: sso.Browser(u, nil, nil)}, Passcode: code(u.Code(t))})
		want(t, err, "not enrolled")
		// Enrolled again: a new secret, the old phone's codes are useless.
		old := u.TOTPSecret
		sso.Enroll(t, &u)
		if u.TOTPSecret == old {
			t.Fatal("enrolling again gave the same secret")
		}
		if _, err := kms.IssueToken(testCtx(t), env.Config, sso.Auth(t, u, nil)); err != nil {
			t.Fatalf("sign-in after a new enrollment: %v", err)
		}
		if _, err := env.Admin.EnrollMFA(testCtx(t), u.Name); kms.KindOf(err) != kms.Conflict {
			t.Fatalf("enrolling an enrolled user: %v, want Conflict", err)
		}
	})
	t.Run("disabled entity", func(t *testing.T) {
		u := sso.User(t)
		if _, err := env.Vault.Client(t).Logical().Write("identity/entity/id/"+u.EntityID, map[string]any{"disabled": true}); err != nil {
			t.Fatal(err)
		}
		err := issue(t, sso.Auth(t, u, nil))
		want(t, err, "refused")
	})
	t.Run("removed from the identity provider", func(t *testing.T) {
		u := sso.User(t)
		browser := idp.NewBrowser() // the provider remembers it
		if _, err := kms.IssueToken(testCtx(t), env.Config, sso.Auth(t, u, browser)); err != nil {
			t.Fatalf("first sign-in: %v", err)
		}
		h.IdP.RemoveUser(u.Name)
		err := issue(t, kms.MFAAuth{Auth: kms.OIDCAuth{Mount: mount, Browse: sso.Browser(u, browser, nil)}, Passcode: code("000000")})
		want(t, err, "identity provider refused", "no longer exists")
	})
	t.Run("tampered state", func(t *testing.T) {
		u := sso.User(t)
		browser := idp.NewBrowser()
		// Stop at the provider's redirect to the callback, and follow it
		// with another state, as a forged link would.
		browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == kms.OIDCCallbackPath {
				return http.ErrUseLastResponse
			}
			return nil
		}
		browse := func(authURL string) error {
			go func() {
				p, err := idp.SignIn(context.Background(), browser, authURL, u.Name, u.IdPPass)
				if err != nil || p.Location == "" {
					t.Errorf("sign-in did not reach the callback redirect: %v %+v", err, p)
					return
				}
				cb, _ := url.Parse(p.Location)
				q := cb.Query()
				q.Set("state", q.Get("state")+"x")
				cb.RawQuery = q.Encode()
				resp, err := http.Get(cb.String())
				if err == nil {
					resp.Body.Close()
				}
			}()
			return nil
		}
		err := issue(t, kms.MFAAuth{Auth: kms.OIDCAuth{Mount: mount, Browse: browse}, Passcode: code(u.Code(t))})
		want(t, err, "does not belong to this attempt")
	})
	t.Run("non-loopback callback", func(t *testing.T) {
		u := sso.User(t)
		for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:8250", "vault.firm.example:8250"} {
			err := issue(t, kms.OIDCAuth{Mount: mount, Listen: addr, Browse: sso.Browser(u, nil, nil)})
			want(t, err, "loopback")
		}
	})
	t.Run("callback the role does not allow", func(t *testing.T) {
		u := sso.User(t)
		err := issue(t, kms.OIDCAuth{Mount: mount, Listen: "localhost:0", Browse: sso.Browser(u, nil, nil)})
		want(t, err, "does not allow the callback http://localhost:", "--oidc-redirect-uri")
	})
	t.Run("expired attempt", func(t *testing.T) {
		err := issue(t, kms.OIDCAuth{Mount: mount, Timeout: time.Second, Browse: func(string) error { return nil }})
		want(t, err, "expired")
	})
	t.Run("wrong password at the provider", func(t *testing.T) {
		u := sso.User(t)
		u.IdPPass = "not-the-password"
		pages := make(chan idp.Page, 1)
		err := issue(t, kms.OIDCAuth{Mount: mount, Timeout: 3 * time.Second, Browse: sso.Browser(u, nil, pages)})
		want(t, err, "not completed")
		if p := <-pages; p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "Wrong user name or password") {
			t.Errorf("the provider's answer to a wrong password: %d %s", p.Status, p.Body)
		}
	})
	t.Run("a password login without a second factor", func(t *testing.T) {
		// MFA is enforced on userpass too: a login method that cannot ask
		// for a code gets a clear refusal, not an empty token.
		u := env.User(t, false)
		err := issue(t, env.Userpass(u))
		want(t, err, "second factor")
	})
}
