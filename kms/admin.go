package kms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Admin performs mattersync-admin's Vault operations: bootstrap, matters,
// members, users, rotation, revocation, shredding. Init needs a bootstrap
// (root-like) token; everything else needs the <name>-admin policy, which
// members of the mattersync-admins group have.
type Admin struct {
	s *session
}

// Connect authenticates to Vault for administration. ctx governs the
// background token renewal; Close ends it.
func Connect(ctx context.Context, cfg Config, auth Authenticator) (*Admin, error) {
	s, err := newSession(ctx, cfg, auth)
	if err != nil {
		return nil, err
	}
	return &Admin{s: s}, nil
}

// Close stops token renewal and revokes the token if Connect logged in for
// it (not with TokenAuth).
func (a *Admin) Close() error {
	a.s.close()
	return nil
}

// Layout returns the layout the Admin works on.
func (a *Admin) Layout() Layout { return a.s.layout }

// IdentityToken returns an identity token for the admin's own entity, for
// the gateway's admin API (which requires mattersync-admins in its groups
// claim). A root token has no entity and gets a Denied error.
func (a *Admin) IdentityToken(ctx context.Context) (IdentityToken, error) {
	if a.s.entityID == "" {
		return IdentityToken{}, errorf("identity token", Denied, "this Vault token has no identity entity (root tokens have none): log in as a user in %s", AdminGroup)
	}
	return a.s.identityToken(ctx, false)
}

// Token returns the raw identity token: an Admin is the gateway client's
// token source (client.TokenSource) as it is.
func (a *Admin) Token(ctx context.Context) (string, error) {
	t, err := a.IdentityToken(ctx)
	return t.Raw, err
}

// TokenConfig returns the issuer, audience and JWKS URL of identity tokens.
func (a *Admin) TokenConfig(ctx context.Context) (TokenConfig, error) {
	return FetchTokenConfig(ctx, a.s.cfg)
}

// Step is one step of a multi-step operation, reported as it completes.
type Step struct {
	Name   string // e.g. "transit mount transit"
	Detail string // e.g. "created", "unchanged", "epoch 3"
	Err    error  // nil if the step succeeded
}

func (s Step) String() string {
	if s.Err != nil {
		return fmt.Sprintf("%s: FAILED: %v", s.Name, s.Err)
	}
	return fmt.Sprintf("%s: %s", s.Name, s.Detail)
}

// Progress receives steps as they complete; nil ignores them.
type Progress func(Step)

func (p Progress) report(s Step) Step {
	if p != nil {
		p(s)
	}
	return s
}

// InitOptions tune Init.
type InitOptions struct {
	// Userpass enables the userpass auth mount (dev/test and small firms).
	Userpass bool
	// Issuer, if set, is written to Vault's identity/oidc/config (global to
	// the Vault namespace): the base URL of the "iss" claim. Empty leaves
	// Vault's setting, by default its api_addr.
	Issuer string
	// TokenTTL is the identity token lifetime; zero means 5 minutes.
	TokenTTL time.Duration
	// OIDC, if set, configures the OIDC auth method against the firm's
	// identity provider (docs/SSO.md).
	OIDC *OIDCOptions
	// MFA, if set, enforces TOTP login MFA on the OIDC and userpass mounts
	// (and MFA.Mounts).
	MFA *MFAOptions
	// Console lists the web console's URLs (the gateway's URL as IT's
	// browsers reach it): Vault's CORS allows their origins, and the OIDC
	// role their callbacks (docs/CONSOLE.md).
	Console []string
	// DryRun reports what Init would change without changing anything.
	DryRun bool
}

// DefaultTokenTTL is the identity token lifetime set by Init.
const DefaultTokenTTL = 5 * time.Minute

// Init bootstraps Vault for mattersync, idempotently: mounts, identity
// token key and role, policies, and the admin group. Each step says whether
// it created, updated or left something unchanged. It stops at the first
// failure.
func (a *Admin) Init(ctx context.Context, opt InitOptions, progress Progress) ([]Step, error) {
	l := a.s.layout
	ttl := opt.TokenTTL
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Minute || ttl > 24*time.Hour {
		return nil, errorf("init", Invalid, "identity token TTL %v: want 1m to 24h", ttl)
	}
	var steps []Step
	run := func(name string, f func() (string, error)) error {
		detail, err := f()
		steps = append(steps, progress.report(Step{Name: name, Detail: detail, Err: err}))
		return err
	}
	dry := opt.DryRun
	var origins []string
	for _, c := range opt.Console {
		o, err := ConsoleOrigin(c)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	if opt.OIDC != nil && len(origins) > 0 {
		o := *opt.OIDC
		o.RedirectURIs = union(o.RedirectURIs, consoleRedirects(origins))
		opt.OIDC = &o
	}
	todo := []initStep{
		{"transit mount " + l.Transit, func() (string, error) { return a.ensureMount(ctx, l.Transit, "transit", nil, dry) }},
		{"KV v2 mount " + l.KV, func() (string, error) {
			return a.ensureMount(ctx, l.KV, "kv", map[string]any{"version": "2"}, dry)
		}},
		{"KV " + l.KV + " requires check-and-set", func() (string, error) { return a.ensureCASRequired(ctx, dry) }},
	}
	if opt.Userpass {
		todo = append(todo, initStep{"userpass auth " + l.Userpass, func() (string, error) { return a.ensureUserpass(ctx, dry) }})
	}
	if opt.OIDC != nil {
		todo = append(todo, a.ssoSteps(ctx, opt.OIDC, dry)...)
	}
	if opt.Issuer != "" {
		todo = append(todo, initStep{"identity token issuer", func() (string, error) { return a.ensureIssuer(ctx, opt.Issuer, dry) }})
	}
	todo = append(todo, []initStep{
		{"OIDC key " + l.Name, func() (string, error) { return a.ensureOIDCKey(ctx, dry) }},
		{"OIDC role " + l.Name, func() (string, error) { return a.ensureOIDCRole(ctx, ttl, dry) }},
		{"policy " + l.agentPolicy(), func() (string, error) {
			return a.s.putPolicy(ctx, "init", l.agentPolicy(), "agent.hcl", "", dry)
		}},
		{"policy " + l.adminPolicy(), func() (string, error) {
			return a.s.putPolicy(ctx, "init", l.adminPolicy(), "admin.hcl", "", dry)
		}},
		{"group " + AdminGroup, func() (string, error) {
			return a.ensureGroup(ctx, "init", AdminGroup, []string{l.adminPolicy()}, nil, dry)
		}},
	}...)
	if opt.MFA != nil {
		todo = append(todo, a.mfaSteps(ctx, opt.MFA, dry)...)
	}
	if len(origins) > 0 {
		todo = append(todo, a.consoleSteps(ctx, origins, opt.OIDC, dry)...)
	}
	for _, t := range todo {
		if err := run(t.name, t.f); err != nil {
			return steps, err
		}
	}
	return steps, nil
}

// ensureMount enables a secrets engine at path unless one of that type is
// there already; another type there is an error, never replaced.
func (a *Admin) ensureMount(ctx context.Context, path, typ string, options map[string]any, dry bool) (string, error) {
	const op = "init"
	all, err := a.s.read(ctx, op, "sys/mounts")
	if err != nil {
		return "", err
	}
	if mount, ok := all.Data[path+"/"].(map[string]any); ok {
		got, _ := mount["type"].(string)
		if got != typ {
			return "", errorf(op, Conflict, "%s is mounted as %q, not %q: choose another mount path", path, got, typ)
		}
		if v, ok := options["version"]; ok {
			opts, _ := mount["options"].(map[string]any)
			if gv, _ := opts["version"].(string); gv != v {
				return "", errorf(op, Conflict, "%s is KV version %q, mattersync needs version %v", path, gv, v)
			}
		}
		return "unchanged", nil
	}
	if dry {
		return "would be created", nil
	}
	body := map[string]any{"type": typ, "description": "mattersync"}
	if options != nil {
		body["options"] = options
	}
	if _, err := a.s.write(ctx, op, "sys/mounts/"+path, body); err != nil {
		return "", err
	}
	return "created", nil
}

// ensureCASRequired makes Vault itself refuse KV writes without
// check-and-set, so no code path can overwrite a wrapped epoch key blindly.
func (a *Admin) ensureCASRequired(ctx context.Context, dry bool) (string, error) {
	const op = "init"
	path := a.s.layout.KV + "/config"
	var last error
	// A freshly enabled KV v2 mount upgrades its storage for a moment and
	// answers errors until done.
	for range 50 {
		sec, err := a.s.readOpt(ctx, op, path)
		if err == nil {
			if sec != nil && sec.Data["cas_required"] == true {
				return "unchanged", nil
			}
			if dry {
				return "would be updated", nil
			}
			if _, err = a.s.write(ctx, op, path, map[string]any{"cas_required": true}); err == nil {
				return "updated", nil
			}
		}
		last = err
		if k := KindOf(err); k == Denied || k == Sealed || k == Unavailable {
			return "", err
		}
		if dry && sec == nil {
			return "would be updated", nil
		}
		select {
		case <-ctx.Done():
			return "", wrap(op, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return "", last
}

func (a *Admin) ensureUserpass(ctx context.Context, dry bool) (string, error) {
	const op = "init"
	acc, typ, err := a.authMount(ctx, a.s.layout.Userpass)
	if err != nil {
		return "", err
	}
	if acc != "" {
		if typ != "userpass" {
			return "", errorf(op, Conflict, "auth/%s is a %q auth method, not userpass", a.s.layout.Userpass, typ)
		}
		return "unchanged", nil
	}
	if dry {
		return "would be created", nil
	}
	if _, err := a.s.write(ctx, op, "sys/auth/"+a.s.layout.Userpass, map[string]any{"type": "userpass", "description": "mattersync users"}); err != nil {
		return "", err
	}
	return "created", nil
}

// authMount returns the accessor and type of the auth method at path, or
// empty strings if there is none.
func (a *Admin) authMount(ctx context.Context, path string) (accessor, typ string, err error) {
	sec, err := a.s.read(ctx, "auth methods", "sys/auth")
	if err != nil {
		return "", "", err
	}
	m, _ := sec.Data[path+"/"].(map[string]any)
	if m == nil {
		return "", "", nil
	}
	accessor, _ = m["accessor"].(string)
	typ, _ = m["type"].(string)
	return accessor, typ, nil
}

func (a *Admin) ensureIssuer(ctx context.Context, issuer string, dry bool) (string, error) {
	const op = "init"
	sec, err := a.s.readOpt(ctx, op, "identity/oidc/config")
	if err != nil {
		return "", err
	}
	if sec != nil && sec.Data["issuer"] == issuer {
		return "unchanged", nil
	}
	if dry {
		return "would be set to " + issuer, nil
	}
	if _, err := a.s.write(ctx, op, "identity/oidc/config", map[string]any{"issuer": issuer}); err != nil {
		return "", err
	}
	return "set to " + issuer, nil
}

func (a *Admin) ensureOIDCKey(ctx context.Context, dry bool) (string, error) {
	const op = "init"
	l := a.s.layout
	path := "identity/oidc/key/" + l.Name
	sec, err := a.s.readOpt(ctx, op, path)
	if err != nil {
		return "", err
	}
	result := "created"
	if sec != nil {
		alg, _ := sec.Data["algorithm"].(string)
		ids := stringList(sec.Data["allowed_client_ids"])
		if alg == "RS256" && slices.Contains(ids, l.Audience) {
			return "unchanged", nil
		}
		result = "updated"
	}
	if dry {
		return "would be " + result, nil
	}
	// Rotated daily; a retired key stays published for verification_ttl,
	// which must cover the longest token lifetime.
	_, err = a.s.write(ctx, op, path, map[string]any{
		"algorithm":          "RS256",
		"allowed_client_ids": []string{l.Audience},
		"rotation_period":    "24h",
		"verification_ttl":   "24h",
	})
	if err != nil {
		return "", err
	}
	return result, nil
}

func (a *Admin) ensureOIDCRole(ctx context.Context, ttl time.Duration, dry bool) (string, error) {
	const op = "init"
	l := a.s.layout
	path := "identity/oidc/role/" + l.Name
	sec, err := a.s.readOpt(ctx, op, path)
	if err != nil {
		return "", err
	}
	result := "created"
	if sec != nil {
		key, _ := sec.Data["key"].(string)
		cid, _ := sec.Data["client_id"].(string)
		tmpl, _ := sec.Data["template"].(string)
		gotTTL, _ := number(sec.Data["ttl"])
		if key == l.Name && cid == l.Audience && tmpl == tokenTemplate && time.Duration(gotTTL)*time.Second == ttl {
			return "unchanged", nil
		}
		result = "updated"
	}
	if dry {
		return "would be " + result, nil
	}
	_, err = a.s.write(ctx, op, path, map[string]any{
		"key":       l.Name,
		"client_id": l.Audience,
		"ttl":       int(ttl.Seconds()),
		// Base64 so Vault does not mistake the template for another format.
		"template": base64.StdEncoding.EncodeToString([]byte(tokenTemplate)),
	})
	if err != nil {
		return "", err
	}
	return result, nil
}

// group is a Vault identity group, as far as mattersync cares.
type group struct {
	ID       string
	Name     string
	Policies []string
	Members  []string // entity IDs
}

// readGroup returns the named group, or nil if there is none.
func (s *session) readGroup(ctx context.Context, op, name string) (*group, error) {
	sec, err := s.readOpt(ctx, op, "identity/group/name/"+name)
	if err != nil || sec == nil {
		return nil, err
	}
	g := &group{Name: name, Policies: stringList(sec.Data["policies"]), Members: stringList(sec.Data["member_entity_ids"])}
	g.ID, _ = sec.Data["id"].(string)
	return g, nil
}

// ensureGroup creates the internal group name with policies (and
// metadata), or adds missing policies to an existing one without removing
// any: several layouts may share one Vault in tests.
func (a *Admin) ensureGroup(ctx context.Context, op, name string, policies []string, metadata map[string]string, dry bool) (string, error) {
	g, err := a.s.readGroup(ctx, op, name)
	if err != nil {
		return "", err
	}
	body := map[string]any{"type": "internal"}
	result := "created"
	if g != nil {
		missing := false
		for _, p := range policies {
			if !slices.Contains(g.Policies, p) {
				missing = true
			}
		}
		if !missing {
			return "unchanged", nil
		}
		policies = union(g.Policies, policies)
		result = "updated"
	} else if metadata != nil {
		body["metadata"] = metadata
	}
	if dry {
		return "would be " + result, nil
	}
	body["policies"] = policies
	if _, err := a.s.write(ctx, op, "identity/group/name/"+name, body); err != nil {
		return "", err
	}
	return result, nil
}

// setMember adds (in true) or removes entityID in group name, and reports
// whether membership changed. Vault replaces member lists wholesale, so two
// admins editing one group at the same instant can lose an edit; the
// members listing shows the outcome.
func (a *Admin) setMember(ctx context.Context, op, name, entityID string, in bool) (bool, error) {
	g, err := a.s.readGroup(ctx, op, name)
	if err != nil {
		return false, err
	}
	if g == nil {
		return false, errorf(op, NotFound, "group %s does not exist", name)
	}
	has := slices.Contains(g.Members, entityID)
	if has == in {
		return false, nil
	}
	members := slices.DeleteFunc(slices.Clone(g.Members), func(id string) bool { return id == entityID })
	if in {
		members = append(members, entityID)
	}
	if _, err := a.s.write(ctx, op, "identity/group/name/"+name, map[string]any{"member_entity_ids": members}); err != nil {
		return false, err
	}
	return true, nil
}

func stringList(v any) []string {
	raw, _ := v.([]any)
	out := make([]string, 0, len(raw))
	for _, x := range raw {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// joinSteps returns the errors of failed steps as one error naming them.
func joinSteps(op string, steps []Step) error {
	var failed []string
	var errs []error
	for _, s := range steps {
		if s.Err != nil {
			failed = append(failed, s.Name)
			errs = append(errs, s.Err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	k := Other
	if len(errs) > 0 {
		k = KindOf(errs[0])
	}
	return &Error{Op: op, Kind: k, Err: fmt.Errorf("failed steps: %s: %w", strings.Join(failed, "; "), errors.Join(errs...))}
}
