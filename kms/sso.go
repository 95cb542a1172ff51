package kms

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OIDCOptions configure Vault's OIDC auth method against the firm's
// identity provider (`vault init --oidc-*`).
type OIDCOptions struct {
	// DiscoveryURL is the provider's issuer: Vault reads
	// <DiscoveryURL>/.well-known/openid-configuration.
	DiscoveryURL string
	// DiscoveryCA is a PEM bundle for the provider's TLS; empty: system roots.
	DiscoveryCA string
	// ClientID and ClientSecret are those of the app registration Vault
	// signs people in as. The secret comes from a file or the environment.
	ClientID, ClientSecret string
	// UserClaim is the ID-token claim naming the person; its value is the
	// login (entity alias) `user create --sso` and `user sso` link to a
	// mattersync user. Default "email".
	UserClaim string
	// BoundClaims, if set, must all be in a person's ID token for Vault to
	// let them in, e.g. {"hd": "firm.example"} (Google Workspace: only
	// the firm's domain) or {"tid": "<tenant ID>"}.
	BoundClaims map[string]string
	// RedirectURIs are allowed besides the loopback callback of the agent
	// and the admin tool (http://127.0.0.1/oidc/callback, any port): e.g.
	// the web console's https://mattersync.firm.example/console/callback.
	RedirectURIs []string
	// TokenTTL and TokenMaxTTL bound the Vault tokens of a sign-in; the
	// agent renews up to the max, then asks the person to sign in again.
	// Zero: 1h and 24h.
	TokenTTL, TokenMaxTTL time.Duration
}

// MFAOptions enforce TOTP login MFA (`vault init --mfa`).
type MFAOptions struct {
	// Issuer is the name authenticator apps show; default "mattersync".
	Issuer string
	// Mounts are the auth mounts to enforce it on, e.g. "oidc", "ldap";
	// empty: the layout's OIDC and userpass mounts, those that exist.
	Mounts []string
}

// Defaults of the OIDC sign-in.
const (
	DefaultOIDCMount   = "oidc"
	DefaultUserClaim   = "email"
	defaultSSOTokenTTL = time.Hour
	defaultSSOMaxTTL   = 24 * time.Hour
)

// LoopbackRedirectURI is the callback every OIDC role of mattersync
// allows: the agent's and the admin tool's (any port).
const LoopbackRedirectURI = "http://127.0.0.1" + OIDCCallbackPath

// OIDCMount returns the OIDC auth mount: l.OIDC, or "oidc".
func (l Layout) OIDCMount() string {
	if l.OIDC != "" {
		return l.OIDC
	}
	return DefaultOIDCMount
}

func (l Layout) totpMethodName() string     { return l.Name + "-totp" }
func (l Layout) mfaEnforcementName() string { return l.Name + "-login" }

// ssoSteps returns Init's steps for OIDC.
func (a *Admin) ssoSteps(ctx context.Context, o *OIDCOptions, dry bool) []initStep {
	m := a.s.layout.OIDCMount()
	return []initStep{
		{"OIDC auth " + m, func() (string, error) { return a.ensureAuth(ctx, m, "oidc", dry) }},
		{"OIDC auth " + m + " provider", func() (string, error) { return a.ensureOIDCConfig(ctx, o, dry) }},
		{"OIDC auth " + m + " role " + a.s.layout.Name, func() (string, error) { return a.ensureOIDCAuthRole(ctx, o, dry) }},
	}
}

// mfaSteps returns Init's steps for login MFA.
func (a *Admin) mfaSteps(ctx context.Context, o *MFAOptions, dry bool) []initStep {
	l := a.s.layout
	var methodID string
	return []initStep{
		{"MFA method " + l.totpMethodName(), func() (detail string, err error) {
			methodID, detail, err = a.ensureTOTPMethod(ctx, o, dry)
			return detail, err
		}},
		{"MFA enforcement " + l.mfaEnforcementName(), func() (string, error) { return a.ensureMFAEnforcement(ctx, methodID, o, dry) }},
	}
}

type initStep struct {
	name string
	f    func() (string, error)
}

// ensureAuth enables an auth method of typ at path unless one is there; a
// different type there is a Conflict.
func (a *Admin) ensureAuth(ctx context.Context, path, typ string, dry bool) (string, error) {
	acc, got, err := a.authMount(ctx, path)
	if err != nil {
		return "", err
	}
	if acc != "" {
		if got != typ {
			return "", errorf("init", Conflict, "auth/%s is a %q auth method, not %s: choose another mount (layout oidc)", path, got, typ)
		}
		return "unchanged", nil
	}
	if dry {
		return "would be created", nil
	}
	if _, err := a.s.write(ctx, "init", "sys/auth/"+path, map[string]any{"type": typ, "description": "mattersync sign-in"}); err != nil {
		return "", err
	}
	return "created", nil
}

func (a *Admin) ensureOIDCConfig(ctx context.Context, o *OIDCOptions, dry bool) (string, error) {
	const op = "init"
	if o.DiscoveryURL == "" || o.ClientID == "" {
		return "", errorf(op, Invalid, "OIDC needs the provider's discovery URL and the client ID")
	}
	if u, err := url.Parse(o.DiscoveryURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errorf(op, Invalid, "OIDC discovery URL %q is not an http(s) URL", o.DiscoveryURL)
	}
	path := "auth/" + a.s.layout.OIDCMount() + "/config"
	sec, err := a.s.readOpt(ctx, op, path)
	if err != nil {
		return "", err
	}
	same := sec != nil && sec.Data["oidc_discovery_url"] == o.DiscoveryURL && sec.Data["oidc_client_id"] == o.ClientID &&
		sec.Data["default_role"] == a.s.layout.Name && fmt.Sprint(sec.Data["oidc_discovery_ca_pem"]) == o.DiscoveryCA
	if same && o.ClientSecret == "" {
		return "unchanged", nil
	}
	result := "created"
	switch {
	case same:
		// Vault never shows the secret: it cannot be compared, only written.
		result = "unchanged, client secret written again"
	case sec != nil:
		result = "updated"
	}
	if dry {
		if same {
			return "unchanged", nil
		}
		return "would be " + result, nil
	}
	if o.ClientSecret == "" {
		return "", errorf(op, Invalid, "OIDC needs the client secret (--oidc-client-secret-file or $MATTERSYNC_OIDC_CLIENT_SECRET)")
	}
	body := map[string]any{
		"oidc_discovery_url":    o.DiscoveryURL,
		"oidc_client_id":        o.ClientID,
		"oidc_client_secret":    o.ClientSecret,
		"oidc_discovery_ca_pem": o.DiscoveryCA,
		"default_role":          a.s.layout.Name,
	}
	// Vault fetches the discovery document here: a wrong URL fails now,
	// not at the first sign-in.
	if _, err := a.s.write(ctx, op, path, body); err != nil {
		return "", err
	}
	return result, nil
}

func (a *Admin) ensureOIDCAuthRole(ctx context.Context, o *OIDCOptions, dry bool) (string, error) {
	const op = "init"
	l := a.s.layout
	claim := o.UserClaim
	if claim == "" {
		claim = DefaultUserClaim
	}
	ttl, maxTTL := o.TokenTTL, o.TokenMaxTTL
	if ttl == 0 {
		ttl = defaultSSOTokenTTL
	}
	if maxTTL == 0 {
		maxTTL = defaultSSOMaxTTL
	}
	if ttl > maxTTL {
		return "", errorf(op, Invalid, "OIDC token TTL %v is longer than its max TTL %v", ttl, maxTTL)
	}
	redirects := append([]string{LoopbackRedirectURI}, o.RedirectURIs...)
	for _, r := range o.RedirectURIs {
		if u, err := url.Parse(r); err != nil || u.Host == "" || (u.Scheme != "https" && !isLoopbackHost(u.Hostname())) {
			return "", errorf(op, Invalid, "OIDC redirect URI %q: want an https URL (or http on a loopback address)", r)
		}
	}
	path := "auth/" + l.OIDCMount() + "/role/" + l.Name
	sec, err := a.s.readOpt(ctx, op, path)
	if err != nil {
		return "", err
	}
	result := "created"
	if sec != nil {
		gotTTL, _ := number(sec.Data["token_ttl"])
		gotMax, _ := number(sec.Data["token_max_ttl"])
		bound, _ := sec.Data["bound_claims"].(map[string]any)
		if sec.Data["user_claim"] == claim && slices.Equal(stringList(sec.Data["allowed_redirect_uris"]), redirects) && sameClaims(bound, o.BoundClaims) &&
			time.Duration(gotTTL)*time.Second == ttl && time.Duration(gotMax)*time.Second == maxTTL {
			return "unchanged", nil
		}
		result = "updated"
	}
	if dry {
		return "would be " + result, nil
	}
	_, err = a.s.write(ctx, op, path, map[string]any{
		"role_type":             "oidc",
		"user_claim":            claim,
		"allowed_redirect_uris": redirects,
		"oidc_scopes":           []string{"openid", "profile", "email"},
		// The claims go into the login's alias metadata, for Vault's audit
		// log; membership stays in Vault's groups, managed by mattersync.
		"claim_mappings": map[string]string{"email": "email", "name": "name"},
		"token_ttl":      int(ttl.Seconds()),
		"token_max_ttl":  int(maxTTL.Seconds()),
		"token_type":     "service",
		"bound_claims":   boundClaims(o.BoundClaims),
		// No policies here: a person gets <name>-agent from their entity,
		// which `user create` or `user sso` sets up. Anyone else the
		// provider lets in gets a token that opens nothing.
		"token_policies": []string{},
	})
	if err != nil {
		return "", err
	}
	return result, nil
}

// totpMethod returns the ID of the layout's TOTP method, or "" if none.
func (a *Admin) findTOTPMethod(ctx context.Context) (string, error) {
	const op = "MFA method"
	sec, err := a.s.client.Logical().ListWithContext(ctx, "identity/mfa/method/totp")
	if err != nil {
		if classify(err) == NotFound {
			return "", nil
		}
		return "", wrap(op, err)
	}
	if sec == nil {
		return "", nil
	}
	info, _ := sec.Data["key_info"].(map[string]any)
	for id, v := range info {
		m, _ := v.(map[string]any)
		if m["name"] == a.s.layout.totpMethodName() {
			return id, nil
		}
	}
	return "", nil
}

func (a *Admin) ensureTOTPMethod(ctx context.Context, o *MFAOptions, dry bool) (id, detail string, err error) {
	const op = "init"
	issuer := o.Issuer
	if issuer == "" {
		issuer = "mattersync"
	}
	id, err = a.findTOTPMethod(ctx)
	if err != nil {
		return "", "", err
	}
	// SHA1, 6 digits, 30 s: what every authenticator app supports; skew 1
	// accepts the previous code too (a phone's clock a little off).
	body := map[string]any{"method_name": a.s.layout.totpMethodName(), "issuer": issuer, "period": 30, "digits": 6,
		"algorithm": "SHA1", "skew": 1, "key_size": 20, "qr_size": 200, "max_validation_attempts": 5}
	if id != "" {
		sec, err := a.s.read(ctx, op, "identity/mfa/method/totp/"+id)
		if err != nil {
			return "", "", err
		}
		if sec.Data["issuer"] == issuer {
			return id, "unchanged", nil
		}
		if dry {
			return id, "would be updated", nil
		}
		delete(body, "method_name")
		if _, err := a.s.write(ctx, op, "identity/mfa/method/totp/"+id, body); err != nil {
			return "", "", err
		}
		return id, "updated", nil
	}
	if dry {
		return "", "would be created", nil
	}
	sec, err := a.s.write(ctx, op, "identity/mfa/method/totp", body)
	if err != nil {
		return "", "", err
	}
	if sec != nil {
		id, _ = sec.Data["method_id"].(string)
	}
	if id == "" {
		return "", "", errorf(op, Other, "Vault returned no MFA method ID")
	}
	return id, "created", nil
}

func (a *Admin) ensureMFAEnforcement(ctx context.Context, methodID string, o *MFAOptions, dry bool) (string, error) {
	const op = "init"
	l := a.s.layout
	mounts := o.Mounts
	if len(mounts) == 0 {
		mounts = []string{l.OIDCMount(), l.Userpass}
	}
	var accessors, names []string
	for _, m := range mounts {
		acc, _, err := a.authMount(ctx, m)
		if err != nil {
			return "", err
		}
		if acc == "" {
			if slices.Contains(o.Mounts, m) {
				return "", errorf(op, NotFound, "no auth method at auth/%s to enforce MFA on", m)
			}
			continue // the layout's OIDC or userpass mount is not enabled
		}
		if !slices.Contains(accessors, acc) {
			accessors = append(accessors, acc)
			names = append(names, m)
		}
	}
	if len(accessors) == 0 {
		return "", errorf(op, NotFound, "no auth method to enforce MFA on: enable OIDC (--oidc-*) or userpass (--userpass)")
	}
	path := "identity/mfa/login-enforcement/" + l.mfaEnforcementName()
	sec, err := a.s.readOpt(ctx, op, path)
	if err != nil {
		return "", err
	}
	detail := "on " + strings.Join(names, ", ")
	result := "created"
	if sec != nil {
		got := stringList(sec.Data["auth_method_accessors"])
		slices.Sort(got)
		want := slices.Sorted(slices.Values(accessors))
		if methodID != "" && slices.Equal(got, want) && slices.Equal(stringList(sec.Data["mfa_method_ids"]), []string{methodID}) {
			return "unchanged, " + detail, nil
		}
		result = "updated"
	}
	if dry {
		return "would be " + result + ", " + detail, nil
	}
	if methodID == "" {
		return "", errorf(op, Other, "no TOTP method to enforce")
	}
	if _, err := a.s.write(ctx, op, path, map[string]any{"mfa_method_ids": []string{methodID}, "auth_method_accessors": accessors}); err != nil {
		return "", err
	}
	return result + ", " + detail, nil
}

// MFAStatus is a user's second factor as Vault knows it.
type MFAStatus struct {
	Enforced bool // vault init --mfa ran: logins need a code
	Enrolled bool // `user mfa enroll` gave the user a TOTP secret
}

// mfaMetadata is the entity metadata key recording the enrolment: Vault's
// API does not show whether an entity has a TOTP secret.
const mfaMetadata = "mattersync_mfa"

// MFAEnrollment is a new TOTP secret: URL is the otpauth:// URL (holding
// the secret) for the person's authenticator app, QRCode the same as a PNG.
// Both are secrets: show them to the person only.
type MFAEnrollment struct {
	URL    string
	QRCode []byte
}

// String keeps the secret out of logs.
func (MFAEnrollment) String() string { return "TOTP enrollment (secret)" }

// EnrollMFA gives user a TOTP secret for the layout's method. A user who
// has one is a Conflict: reset first (ResetMFA), so a secret on a lost
// phone is never silently kept alongside the new one.
func (a *Admin) EnrollMFA(ctx context.Context, user string) (MFAEnrollment, error) {
	op := "MFA enroll " + user
	u, method, err := a.mfaUser(ctx, op, user)
	if err != nil {
		return MFAEnrollment{}, err
	}
	if u.Disabled {
		return MFAEnrollment{}, errorf(op, Conflict, "user %s is revoked: reinstate first", user)
	}
	sec, err := a.s.write(ctx, op, "identity/mfa/method/totp/admin-generate", map[string]any{"method_id": method, "entity_id": u.EntityID})
	if err != nil {
		return MFAEnrollment{}, err
	}
	if sec == nil || sec.Data["url"] == nil {
		if err := a.setMFAMetadata(ctx, op, u.EntityID, true); err != nil {
			return MFAEnrollment{}, err
		}
		return MFAEnrollment{}, errorf(op, Conflict, "%s already has an authenticator app set up: `user mfa reset %s` first (e.g. for a lost phone), then enroll again", user, user)
	}
	var e MFAEnrollment
	e.URL, _ = sec.Data["url"].(string)
	if b, _ := sec.Data["barcode"].(string); b != "" {
		e.QRCode, _ = base64.StdEncoding.DecodeString(b)
	}
	if err := a.setMFAMetadata(ctx, op, u.EntityID, true); err != nil {
		return MFAEnrollment{}, err
	}
	return e, nil
}

// ResetMFA removes user's TOTP secret (a lost or replaced phone): until
// enrolled again, the user cannot log in where MFA is enforced.
func (a *Admin) ResetMFA(ctx context.Context, user string) error {
	op := "MFA reset " + user
	u, method, err := a.mfaUser(ctx, op, user)
	if err != nil {
		return err
	}
	if _, err := a.s.write(ctx, op, "identity/mfa/method/totp/admin-destroy", map[string]any{"method_id": method, "entity_id": u.EntityID}); err != nil {
		return err
	}
	return a.setMFAMetadata(ctx, op, u.EntityID, false)
}

// MFA returns user's MFA status.
func (a *Admin) MFA(ctx context.Context, user string) (MFAStatus, error) {
	op := "MFA status " + user
	u, err := a.User(ctx, user)
	if err != nil {
		return MFAStatus{}, err
	}
	sec, err := a.s.readOpt(ctx, op, "identity/mfa/login-enforcement/"+a.s.layout.mfaEnforcementName())
	if err != nil {
		return MFAStatus{}, err
	}
	return MFAStatus{Enforced: sec != nil, Enrolled: u.MFA}, nil
}

// mfaUser returns the user and the layout's TOTP method ID.
func (a *Admin) mfaUser(ctx context.Context, op, user string) (User, string, error) {
	u, err := a.User(ctx, user)
	if err != nil {
		return User{}, "", err
	}
	method, err := a.findTOTPMethod(ctx)
	if err != nil {
		return User{}, "", err
	}
	if method == "" {
		return User{}, "", errorf(op, NotFound, "no TOTP method %s in Vault: run `mattersync-admin vault init --mfa`", a.s.layout.totpMethodName())
	}
	return u, method, nil
}

// setMFAMetadata records (or clears) the enrolment in the entity's
// metadata, keeping the rest of it.
func (a *Admin) setMFAMetadata(ctx context.Context, op, entityID string, enrolled bool) error {
	sec, err := a.s.read(ctx, op, "identity/entity/id/"+entityID)
	if err != nil {
		return err
	}
	md := map[string]string{}
	if m, ok := sec.Data["metadata"].(map[string]any); ok {
		for k, v := range m {
			md[k] = fmt.Sprint(v)
		}
	}
	if enrolled {
		md[mfaMetadata] = "totp " + time.Now().UTC().Format(time.RFC3339)
	} else {
		delete(md, mfaMetadata)
	}
	_, err = a.s.write(ctx, op, "identity/entity/id/"+entityID, map[string]any{"metadata": md})
	return err
}

// LinkSSO ties login (the value of the OIDC role's user claim, e.g. the
// person's e-mail at the identity provider) to user: their sign-ins then
// reach the user's entity, its policy and its matter groups.
func (a *Admin) LinkSSO(ctx context.Context, user, login string) error {
	op := "link sign-in " + user
	if login == "" || strings.ContainsAny(login, "\x00\n\r") || len(login) > 256 {
		return errorf(op, Invalid, "sign-in name %q: want the identity provider's value of the user claim (e.g. alice@firm.example)", login)
	}
	u, err := a.User(ctx, user)
	if err != nil {
		return err
	}
	m := a.s.layout.OIDCMount()
	acc, typ, err := a.authMount(ctx, m)
	if err != nil {
		return err
	}
	if acc == "" || typ != "oidc" {
		return errorf(op, NotFound, "no OIDC auth method at auth/%s: run `mattersync-admin vault init --oidc-discovery-url ...` first", m)
	}
	for _, al := range u.Aliases {
		if al.MountPath == "auth/"+m+"/" {
			if al.Name == login {
				return nil
			}
			return errorf(op, Conflict, "%s already signs in as %q at auth/%s", user, al.Name, m)
		}
	}
	sec, err := a.s.write(ctx, op, "identity/lookup/entity", map[string]any{"alias_name": login, "alias_mount_accessor": acc})
	if err != nil && KindOf(err) != NotFound {
		return err
	}
	if sec != nil && sec.Data["id"] != nil && sec.Data["id"] != u.EntityID {
		other, _ := sec.Data["name"].(string)
		return errorf(op, Conflict, "sign-in %q already belongs to entity %s (%v): an earlier sign-in created it; merge or delete that entity first", login, other, sec.Data["id"])
	}
	_, err = a.s.write(ctx, op, "identity/entity-alias", map[string]any{"name": login, "canonical_id": u.EntityID, "mount_accessor": acc})
	return err
}

// isLoopbackHost reports whether host is a loopback IP or localhost.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// boundClaims is o.BoundClaims as Vault takes it (an empty map clears).
func boundClaims(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sameClaims compares Vault's bound_claims with the wanted ones.
func sameClaims(got map[string]any, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != v {
			return false
		}
	}
	return true
}
