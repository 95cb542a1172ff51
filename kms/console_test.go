package kms_test

import (
	"slices"
	"testing"

	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

func TestConsoleOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Mattersync.Firm.example:8443":          "https://mattersync.firm.example:8443",
		"https://mattersync.firm.example/":              "https://mattersync.firm.example",
		"https://mattersync.firm.example/console/":      "https://mattersync.firm.example",
		"http://127.0.0.1:8443":                         "http://127.0.0.1:8443",
		"http://mattersync.firm.example":                "", // a token would cross plain HTTP
		"https://mattersync.firm.example/other":         "",
		"https://user@mattersync.firm.example":          "",
		"https://mattersync.firm.example/?x=1":          "",
		"mattersync.firm.example:8443":                  "",
		"https://mattersync.firm.example/console/#frag": "",
	} {
		got, err := kms.ConsoleOrigin(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("ConsoleOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestInitConsole: vault init --console-url adds the console's origin to
// Vault's CORS (keeping other origins there) and its callback to the OIDC
// role, with the OIDC flags or later without them; again: unchanged.
func TestInitConsole(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	sso := env.SSO(t, testenv.Hydra(t))
	c := env.Vault.Client(t)
	if _, err := c.Logical().WriteWithContext(ctx, "sys/config/cors", map[string]any{"enabled": true, "allowed_origins": []string{"https://other.example"}}); err != nil {
		t.Fatal(err)
	}
	const console = "https://mattersync.firm.example:8443"
	steps, err := env.Admin.Init(ctx, kms.InitOptions{Console: []string{console + "/console/"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cors, err := c.Logical().ReadWithContext(ctx, "sys/config/cors")
	if err != nil {
		t.Fatal(err)
	}
	origins, _ := cors.Data["allowed_origins"].([]any)
	if !slices.Contains(origins, any("https://other.example")) || !slices.Contains(origins, any(console)) || cors.Data["enabled"] != true {
		t.Fatalf("CORS after init: %v (steps %v)", cors.Data, steps)
	}
	role, err := c.Logical().ReadWithContext(ctx, "auth/"+env.Config.Layout.OIDCMount()+"/role/"+env.Config.Layout.Name)
	if err != nil {
		t.Fatal(err)
	}
	uris, _ := role.Data["allowed_redirect_uris"].([]any)
	if !slices.Contains(uris, any(console+kms.ConsoleCallbackPath)) || !slices.Contains(uris, any(kms.LoopbackRedirectURI)) || role.Data["user_claim"] != "email" {
		t.Fatalf("role after init: %v", role.Data)
	}
	steps, err = env.Admin.Init(ctx, kms.InitOptions{Console: []string{console}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.Detail != "unchanged" {
			t.Errorf("second init: %s: %s", s.Name, s.Detail)
		}
	}
	// With the OIDC flags (the secret written again): the callback stays.
	steps, err = env.Admin.Init(ctx, kms.InitOptions{Console: []string{console},
		OIDC: &kms.OIDCOptions{DiscoveryURL: sso.Hydra.Issuer, ClientID: sso.Client.ID, ClientSecret: sso.Client.Secret}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.Name == "OIDC auth "+env.Config.Layout.OIDCMount()+" role "+env.Config.Layout.Name && s.Detail != "unchanged" {
			t.Errorf("init with OIDC flags: role %s", s.Detail)
		}
	}
	if _, err := env.Admin.Init(ctx, kms.InitOptions{Console: []string{"http://mattersync.firm.example"}}, nil); err == nil {
		t.Error("a plain-HTTP console URL was accepted")
	}
}
