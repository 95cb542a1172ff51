// Package auth verifies the Vault identity tokens callers present and
// derives their matter roles from the token's groups claim.
//
// A token is accepted only if it is a JWS signed with an asymmetric
// algorithm by a key in Vault's JWKS, with the configured issuer and
// audience (one value), an issued-at in the past, an expiry in the future
// at most MaxLifetime after it, a not-before (if any) in the past, a
// subject, and exactly the claims of the mattersync OIDC role's template.
// Everything else, including "alg": "none" and HMAC algorithms, is
// refused.
package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/mattersync/mattersync/format"
)

// AdminGroup is the Vault group whose members may use the admin API.
const AdminGroup = "mattersync-admins"

// Config configures a Verifier.
type Config struct {
	JWKSURL  string
	Issuer   string
	Audience string
	// Leeway absorbs clock skew on exp/nbf/iat.
	Leeway time.Duration
	// MaxLifetime refuses tokens whose exp is more than this after their
	// iat (default 15 minutes): a token outlives a change of the caller's
	// groups by at most this long, unless the gateway is told to refuse
	// it sooner (the deny list, reissue).
	MaxLifetime time.Duration
	// Refresh is how often the JWKS is refetched in the background; an
	// unknown key ID triggers a refetch too, at most every MinRefresh.
	Refresh    time.Duration
	MinRefresh time.Duration
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Verifier checks identity tokens.
type Verifier struct {
	kf          keyfunc.Keyfunc
	parser      *jwt.Parser
	audience    string
	maxLifetime time.Duration
}

// DefaultMaxLifetime is Config.MaxLifetime when it is not set.
const DefaultMaxLifetime = 15 * time.Minute

// Errors Verify returns, wrapped with the reason.
var (
	ErrNoToken      = errors.New("auth: no bearer token")
	ErrInvalidToken = errors.New("auth: invalid token")
	ErrExpired      = errors.New("auth: token expired")
)

// NewVerifier starts fetching the JWKS. It does not fail when the JWKS is
// unreachable (Vault may start after the gateway); Ready reports it.
// Background refreshes stop when ctx ends.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.JWKSURL == "" || cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: JWKS URL, issuer and audience are required")
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 5 * time.Minute
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = 10 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:          cfg.HTTPClient,
		HTTPTimeout:     10 * time.Second,
		RefreshInterval: cfg.Refresh,
		// A token with an unknown kid (Vault rotated its key) refetches
		// the JWKS, rate-limited so garbage kids cannot hammer Vault; a
		// request never waits more than a second for that.
		RefreshUnknownKID: rate.NewLimiter(rate.Every(cfg.MinRefresh), 1),
		RateLimitWaitMax:  time.Second,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "JWKS refresh failed", "url", u, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	return newVerifier(kf, cfg), nil
}

// NewStaticVerifier verifies against a fixed JWKS document (tests, and
// air-gapped deployments that pin Vault's keys).
func NewStaticVerifier(jwks []byte, cfg Config) (*Verifier, error) {
	kf, err := keyfunc.NewJWKSetJSON(jwks)
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	return newVerifier(kf, cfg), nil
}

func newVerifier(kf keyfunc.Keyfunc, cfg Config) *Verifier {
	// Asymmetric algorithms only: Vault signs with RS256 by default and
	// may be configured for ES256 or EdDSA.
	algorithms := []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA"}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	return &Verifier{kf: kf, audience: cfg.Audience, maxLifetime: cfg.MaxLifetime, parser: jwt.NewParser(
		jwt.WithValidMethods(algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithStrictDecoding(),
	)}
}

// Ready reports whether the JWKS has been fetched and holds keys.
func (v *Verifier) Ready(ctx context.Context) error {
	keys, err := v.kf.Storage().KeyReadAll(ctx)
	if err != nil {
		return fmt.Errorf("auth: JWKS: %w", err)
	}
	if len(keys) == 0 {
		return errors.New("auth: JWKS not fetched yet or empty")
	}
	return nil
}

// KnownKey reports whether token is a compact JWS whose header names a
// key (kid) already in the fetched JWKS. It verifies nothing and never
// fetches: the gateway asks it before spending a signature check on a
// token from a source that has used up its failed authentications (an
// unknown kid would make Verify refetch the JWKS, and wait for it).
func (v *Verifier) KnownKey(ctx context.Context, token string) bool {
	if len(token) > MaxTokenLen {
		return false
	}
	h, _, ok := strings.Cut(token, ".")
	if !ok || len(h) > 2048 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return false
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if json.Unmarshal(b, &hdr) != nil || hdr.Kid == "" {
		return false
	}
	keys, err := v.kf.Storage().KeyReadAll(ctx)
	if err != nil {
		return false
	}
	for _, k := range keys {
		if k.Marshal().KID == hdr.Kid {
			return true
		}
	}
	return false
}

// tokenClaims are the claims of a token from the mattersync OIDC role:
// Vault's own and those of the role's template (kms: username and groups).
// Any other role in the Vault namespace that reuses mattersync's client_id
// signs with keys in the same JWKS; a token with claims outside this set,
// or without username and groups, was not made by the mattersync template
// and is refused. (A role that copies the template exactly cannot be told
// apart by the gateway: see GATEWAY.md, "Identity tokens".)
var tokenClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true, "namespace": true,
	"username": true, "groups": true,
}

// templateClaims checks a verified token's claim set against tokenClaims.
func templateClaims(token string) error {
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k := range m {
		if !tokenClaims[k] {
			return fmt.Errorf("claim %.40q is not one of the mattersync role's template", k)
		}
	}
	for _, k := range []string{"username", "groups"} {
		if _, ok := m[k]; !ok {
			return fmt.Errorf("no %s claim: not a token of the mattersync role's template", k)
		}
	}
	return nil
}

// claims are the Vault identity token claims mattersync uses.
type claims struct {
	jwt.RegisteredClaims
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// MaxTokenLen bounds the bearer token; Vault identity tokens are a few KB
// even with hundreds of groups.
const MaxTokenLen = 64 << 10

// Verify checks a bearer token and returns the caller's identity.
func (v *Verifier) Verify(ctx context.Context, token string) (*Identity, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrInvalidToken, MaxTokenLen)
	}
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, v.kf.KeyfuncCtx(ctx))
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, fmt.Errorf("%w: %w", ErrExpired, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	// One audience, the mattersync role's client_id: Vault writes aud as
	// that one string, so a list (which the parser accepts when any
	// element matches) did not come from the role.
	if len(c.Audience) != 1 {
		return nil, fmt.Errorf("%w: aud must be the one client ID %q", ErrInvalidToken, v.audience)
	}
	if err := templateClaims(token); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// Without iat a token could be older than any reissue stamp and its
	// lifetime unknown.
	if c.IssuedAt == nil {
		return nil, fmt.Errorf("%w: no iat", ErrInvalidToken)
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life > v.maxLifetime {
		return nil, fmt.Errorf("%w: lifetime %s (exp - iat) is longer than %s", ErrInvalidToken, life, v.maxLifetime)
	}
	id := &Identity{Entity: c.Subject, User: c.Username, Groups: slices.Clone(c.Groups), Expiry: c.ExpiresAt.Time, IssuedAt: c.IssuedAt.Time}
	id.derive()
	return id, nil
}

// Role is a caller's access to a matter.
type Role int

// Roles, weakest first.
const (
	None Role = iota
	Read
	Write
)

// Identity is a verified caller.
type Identity struct {
	Entity string // Vault entity ID (the token's sub)
	User   string // Vault entity name
	Groups []string
	Expiry time.Time
	// IssuedAt is the token's iat (whole seconds).
	IssuedAt time.Time
	Admin    bool
	roles    map[string]Role // screened matters are absent
}

// RolesFromGroups derives matter roles from group names: matter-<id>-rw
// grants Write, matter-<id>-ro Read, matter-<id>-screened removes the matter
// whatever else is granted. Names that do not parse, or whose matter ID is
// invalid, grant nothing.
func RolesFromGroups(groups []string) (roles map[string]Role, admin bool) {
	roles = make(map[string]Role)
	screened := make(map[string]bool)
	for _, g := range groups {
		if g == AdminGroup {
			admin = true
			continue
		}
		rest, ok := strings.CutPrefix(g, "matter-")
		if !ok {
			continue
		}
		var role Role
		var matter string
		switch {
		case strings.HasSuffix(rest, "-rw"):
			matter, role = strings.TrimSuffix(rest, "-rw"), Write
		case strings.HasSuffix(rest, "-ro"):
			matter, role = strings.TrimSuffix(rest, "-ro"), Read
		case strings.HasSuffix(rest, "-screened"):
			matter = strings.TrimSuffix(rest, "-screened")
			if format.ValidateMatterID(matter) == nil {
				screened[matter] = true
			}
			continue
		default:
			continue
		}
		if format.ValidateMatterID(matter) != nil {
			continue
		}
		if role > roles[matter] {
			roles[matter] = role
		}
	}
	for m := range screened {
		delete(roles, m)
	}
	return roles, admin
}

func (id *Identity) derive() { id.roles, id.Admin = RolesFromGroups(id.Groups) }

// Role returns the caller's role on matter.
func (id *Identity) Role(matter string) Role { return id.roles[matter] }

// Screened reports whether the caller is behind an ethical wall of matter.
func (id *Identity) Screened(matter string) bool {
	return slices.Contains(id.Groups, "matter-"+matter+"-screened")
}

// Matters returns the matters the caller has a role on, sorted.
func (id *Identity) Matters() []string {
	out := make([]string, 0, len(id.roles))
	for m := range id.roles {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}
