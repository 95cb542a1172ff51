package kms

import (
	"context"
	"net/url"
	"slices"
	"strings"
)

// The web console (docs/CONSOLE.md) signs in to Vault from the browser: its
// page, served by the gateway, calls Vault's OIDC, MFA and identity-token
// endpoints itself, so Vault must answer that origin's cross-origin
// requests (CORS), and the OIDC role must allow the page's callback.

// ConsoleCallbackPath is the path of the web console's sign-in callback
// below the gateway's URL: the identity provider sends the sign-in window
// back there.
const ConsoleCallbackPath = "/console/callback"

// ConsoleOrigin returns the origin (scheme://host[:port]) of a console URL
// (the gateway's URL as IT's browsers reach it), refusing what is not an
// https URL (http only on a loopback address: a token crosses it).
func ConsoleOrigin(consoleURL string) (string, error) {
	u, err := url.Parse(consoleURL)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/" && u.Path != "/console" && u.Path != "/console/") ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", errorf("init", Invalid, "console URL %q: want the gateway's URL as browsers reach it, e.g. https://mattersync.firm.example:8443", consoleURL)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !isLoopbackHost(u.Hostname())) {
		return "", errorf("init", Invalid, "console URL %q: want https (http only on a loopback address)", consoleURL)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// consoleSteps returns Init's steps for the console: Vault's CORS, and the
// callback on the OIDC role when Init does not write the role itself
// (o == nil: the role is left as it is, but for the callback).
func (a *Admin) consoleSteps(ctx context.Context, origins []string, o *OIDCOptions, dry bool) []initStep {
	steps := []initStep{{"CORS for the web console", func() (string, error) { return a.ensureCORS(ctx, origins, dry) }}}
	if o == nil {
		steps = append(steps, initStep{"OIDC role " + a.s.layout.Name + " console callback", func() (string, error) {
			return a.ensureConsoleRedirects(ctx, origins, dry)
		}})
	}
	return steps
}

// consoleRedirects returns the callbacks of origins.
func consoleRedirects(origins []string) []string {
	out := make([]string, len(origins))
	for i, o := range origins {
		out[i] = o + ConsoleCallbackPath
	}
	return out
}

// ensureCORS adds origins to Vault's CORS configuration, keeping the
// origins and headers already allowed (Vault's CORS is one setting for the
// whole server: other applications may have theirs there). Vault's default
// allowed headers include X-Vault-Token and Content-Type, all the page
// sends. A wildcard origin already allowing everything is left alone.
func (a *Admin) ensureCORS(ctx context.Context, origins []string, dry bool) (string, error) {
	const op = "init"
	sec, err := a.s.readOpt(ctx, op, "sys/config/cors")
	if err != nil {
		return "", err
	}
	var have, headers []string
	enabled := false
	if sec != nil {
		have, headers = stringList(sec.Data["allowed_origins"]), stringList(sec.Data["allowed_headers"])
		enabled, _ = sec.Data["enabled"].(bool)
	}
	want := union(have, origins)
	if enabled && (slices.Equal(want, have) || slices.Contains(have, "*")) {
		return "unchanged", nil
	}
	result := "enabled for " + strings.Join(origins, ", ")
	if dry {
		return "would be " + result, nil
	}
	body := map[string]any{"enabled": true, "allowed_origins": want}
	if len(headers) > 0 {
		body["allowed_headers"] = headers
	}
	if _, err := a.s.write(ctx, op, "sys/config/cors", body); err != nil {
		return "", err
	}
	return result, nil
}

// ensureConsoleRedirects adds the console callbacks to the OIDC role's
// allowed redirect URIs, changing nothing else of the role. No role: the
// sign-in is not set up yet (vault init --oidc-* does it, with these).
func (a *Admin) ensureConsoleRedirects(ctx context.Context, origins []string, dry bool) (string, error) {
	const op = "init"
	path := "auth/" + a.s.layout.OIDCMount() + "/role/" + a.s.layout.Name
	sec, err := a.s.readOpt(ctx, op, path)
	if err != nil {
		return "", err
	}
	if sec == nil {
		return "no OIDC sign-in set up yet: give the --oidc-* flags too (docs/SSO.md)", nil
	}
	have := stringList(sec.Data["allowed_redirect_uris"])
	want := union(have, consoleRedirects(origins))
	if slices.Equal(have, want) {
		return "unchanged", nil
	}
	if dry {
		return "would be updated", nil
	}
	// Vault's JWT/OIDC plugin updates only the fields a write names.
	if _, err := a.s.write(ctx, op, path, map[string]any{"allowed_redirect_uris": want}); err != nil {
		return "", err
	}
	return "updated", nil
}
