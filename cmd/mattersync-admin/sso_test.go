package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pquerna/otp"

	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// IT sets up sign-in through the identity provider (real Hydra) and MFA
// with vault init, creates and enrolls users, and signs in itself with
// --login-method oidc: the browser (scripted here) and the code of the
// authenticator app.
func TestSSOAdmin(t *testing.T) {
	env := kmstest.Setup(t)
	h := testenv.Hydra(t)
	c := newCLI(t, env)
	client := h.RegisterClient(t, kms.LoopbackRedirectURI)
	initArgs := []string{"vault", "init", "--userpass", "--oidc-discovery-url", h.Issuer, "--oidc-client-id", client.ID, "--mfa"}

	// The secret never comes from a flag.
	r := c.must(t, exitUsage, "", initArgs...)
	if !strings.Contains(r.stderr, "--oidc-client-secret-file") {
		t.Fatalf("no word of where the secret goes: %s", r.stderr)
	}
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte(client.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	initArgs = append(initArgs, "--oidc-client-secret-file", secretFile)
	r = c.must(t, exitOK, "", initArgs...)
	if !strings.Contains(r.stdout, kms.LoopbackRedirectURI) || !strings.Contains(r.stdout, "MFA enforcement") {
		t.Fatalf("vault init output: %s", r.stdout)
	}
	c.must(t, exitOK, "", "vault", "status")

	// The web console: Vault's CORS for the gateway's origin and its
	// callback on the role, printed to register at the provider.
	const console = "https://mattersync.firm.example:8443"
	r = c.must(t, exitOK, "", "vault", "init", "--console-url", console)
	if !strings.Contains(r.stdout, "CORS for the web console") || !strings.Contains(r.stdout, console+kms.ConsoleCallbackPath) {
		t.Fatalf("vault init --console-url output: %s", r.stdout)
	}
	c.must(t, exitUsage, "", "vault", "init", "--console-url", "http://mattersync.firm.example")

	// A user who signs in through the identity provider, no password.
	name := testenv.RandomName("it-")
	r = c.must(t, exitOK, "", "user", "create", name, "--sso", name+"@firm.example", "--admin")
	if strings.Contains(r.stdout, "password") {
		t.Fatalf("an SSO user got a password: %s", r.stdout)
	}
	r = c.must(t, exitOK, "", "user", "show", name)
	if !strings.Contains(r.stdout, "NOT ENROLLED") || !strings.Contains(r.stdout, name+"@firm.example") {
		t.Fatalf("user show before enrollment: %s", r.stdout)
	}
	r = c.must(t, exitOK, "", "user", "mfa", "enroll", name)
	var url string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "otpauth://") {
			url = line
		}
	}
	key, err := otp.NewKeyFromURL(url)
	if err != nil || !strings.Contains(r.stdout, "▀") && !strings.Contains(r.stdout, "█") {
		t.Fatalf("enroll printed no otpauth URL and QR code (%v): %s", err, r.stdout)
	}
	c.must(t, exitExists, "", "user", "mfa", "enroll", name)
	if r = c.must(t, exitOK, "", "user", "show", name); !strings.Contains(r.stdout, "enrolled (TOTP") {
		t.Fatalf("user show after enrollment: %s", r.stdout)
	}

	// IT signs in: no Vault token in the environment.
	u := kmstest.SSOUser{User: kmstest.User{Name: name}, IdPPass: h.AddUser(name), TOTPSecret: key.Secret()}
	sso := &kmstest.SSO{Env: env, Hydra: h, Client: client}
	c.environ["VAULT_TOKEN"] = ""
	c.browse = sso.Browser(u, nil, nil)
	c.must(t, exitOK, u.Code(t)+"\n", "--login-method", "oidc", "user", "show", name)
	// A wrong code: refused, exit 5, saying so.
	r = c.must(t, exitDenied, "000000\n", "--login-method", "oidc", "user", "list")
	if !strings.Contains(r.stderr, "code is wrong") || strings.Contains(r.stderr, "hint:") {
		t.Errorf("wrong code refusal: %s", r.stderr)
	}

	// MFA is enforced on userpass too: --login asks for the code after
	// the password.
	pwUser := env.User(t, true)
	r = c.must(t, exitDenied, pwUser.Password+"\n123456\n", "--login", pwUser.Name, "user", "list")
	if !strings.Contains(r.stderr, "not enrolled") {
		t.Errorf("an un-enrolled admin's refusal: %s", r.stderr)
	}

	// A lost phone: reset, and the user is told to enroll again.
	c.environ["VAULT_TOKEN"] = env.Vault.Token
	c.must(t, exitOK, "", "user", "mfa", "reset", name)
	if r = c.must(t, exitOK, "", "user", "show", name); !strings.Contains(r.stdout, "NOT ENROLLED") {
		t.Fatalf("user show after reset: %s", r.stdout)
	}
}
