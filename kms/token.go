package kms

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// IdentityToken is a Vault identity token (a JWT signed by Vault) and the
// claims the agent and admin CLI use. The claims are read, not verified:
// the token came straight from Vault, and only its verifier (the gateway)
// relies on them.
type IdentityToken struct {
	// Raw is the compact JWT: a bearer credential for the gateway. It is
	// never logged (see String and LogValue).
	Raw      string
	Issuer   string   // "iss"
	Audience string   // "aud"
	Subject  string   // "sub": the entity ID
	Username string   // "username": the entity name
	Groups   []string // "groups": the entity's group names, direct and inherited
	IssuedAt time.Time
	Expiry   time.Time
}

// String describes the token without its secret part.
func (t IdentityToken) String() string {
	return fmt.Sprintf("identity token for %s (%s), expires %s", t.Username, t.Subject, t.Expiry.Format(time.RFC3339))
}

// LogValue keeps Raw out of slog output.
func (t IdentityToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", t.Username), slog.String("sub", t.Subject), slog.Time("exp", t.Expiry))
}

// Claims of a mattersync identity token; the template is set by Init.
type claims struct {
	Iss      string   `json:"iss"`
	Aud      string   `json:"aud"`
	Sub      string   `json:"sub"`
	Iat      int64    `json:"iat"`
	Exp      int64    `json:"exp"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// tokenTemplate is the OIDC role's claim template. "sub" (entity ID),
// "iss", "aud", "iat" and "exp" are Vault's own.
const tokenTemplate = `{"username": {{identity.entity.name}}, "groups": {{identity.entity.groups.names}}}`

func parseIdentityToken(raw string) (IdentityToken, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return IdentityToken{}, errors.New("identity token is not a compact JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return IdentityToken{}, fmt.Errorf("identity token payload: %w", err)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return IdentityToken{}, fmt.Errorf("identity token claims: %w", err)
	}
	if c.Sub == "" || c.Exp == 0 {
		return IdentityToken{}, errors.New("identity token lacks sub or exp")
	}
	return IdentityToken{
		Raw: raw, Issuer: c.Iss, Audience: c.Aud, Subject: c.Sub, Username: c.Username, Groups: c.Groups,
		IssuedAt: time.Unix(c.Iat, 0), Expiry: time.Unix(c.Exp, 0),
	}, nil
}
