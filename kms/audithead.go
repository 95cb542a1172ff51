package kms

// The audit log's head in Vault: the gateway keeps its newest signed
// checkpoint in the KV store (gateway/anchor), logged in with an AppRole
// whose policy ({{.Name}}-gateway, configs/vault/gateway.hcl) may read and
// write that one path and nothing else: no key, no matter, no identity.
// The gateway still holds no credential that can decrypt.

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// AuditHeadKey is the KV key of the audit head, under the layout's KV mount.
const AuditHeadKey = "audit/head"

// AuditHeadVersions is how many versions of the head Vault keeps (a week of
// one-minute checkpoints): the long record is the S3 copies under Object
// Lock, the head guards the newest.
const AuditHeadVersions = 10080

// AppRoleAuth logs in with an AppRole role ID and secret ID (the gateway's
// login). The secret ID stays in memory for logging in again.
type AppRoleAuth struct {
	Mount    string // auth mount path, e.g. "approle"
	RoleID   string
	SecretID string
}

// Login implements Authenticator.
func (a AppRoleAuth) Login(ctx context.Context, c *vault.Client) (*vault.Secret, error) {
	if a.Mount == "" || a.RoleID == "" || a.SecretID == "" {
		return nil, errorf("login", Invalid, "approle login needs a mount, a role ID and a secret ID")
	}
	return c.Logical().WriteWithContext(ctx, "auth/"+url.PathEscape(a.Mount)+"/login",
		map[string]any{"role_id": a.RoleID, "secret_id": a.SecretID})
}

// String keeps the secret ID out of logs and error messages.
func (a AppRoleAuth) String() string { return "approle login " + a.RoleID + " at " + a.Mount }

// AuditHead reads and writes the audit head. The gateway's logs in on
// first use (and again after a failure), so a gateway starts while Vault
// is away; an admin's uses the admin session.
type AuditHead struct {
	cfg  Config
	auth Authenticator
	ctx  context.Context // governs the token renewal of a lazy session

	mu sync.Mutex // guards s
	s  *session
}

// OpenAuditHead returns the audit head reached with auth, logging in on
// first use. ctx governs the token renewal; Close ends it.
func OpenAuditHead(ctx context.Context, cfg Config, auth Authenticator) (*AuditHead, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &AuditHead{cfg: cfg, auth: auth, ctx: ctx}, nil
}

// AuditHead returns the audit head as the admin reads it (the admin policy
// may read it; `audit verify` compares it with the database).
func (a *Admin) AuditHead() *AuditHead { return &AuditHead{cfg: a.s.cfg, s: a.s} }

func (h *AuditHead) session(ctx context.Context) (*session, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.s != nil {
		return h.s, nil
	}
	if h.auth == nil {
		return nil, errorf("audit head", Invalid, "no Vault login for the audit head")
	}
	// The session outlives this call: its renewal runs under h.ctx.
	s, err := newSession(h.ctx, h.cfg, h.auth)
	if err != nil {
		return nil, err
	}
	h.s = s
	return s, nil
}

// headValue is the KV secret's data.
type headValue struct {
	Checkpoint string `json:"checkpoint"`
	Written    string `json:"written"`
}

// ReadHead returns the head's value and KV version, or nil and 0 if there
// is none yet.
func (h *AuditHead) ReadHead(ctx context.Context) ([]byte, int, error) {
	s, err := h.session(ctx)
	if err != nil {
		return nil, 0, err
	}
	var v headValue
	ver, err := s.kvRead(ctx, "audit head", AuditHeadKey, &v)
	if KindOf(err) == NotFound {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if v.Checkpoint == "" {
		return nil, ver, errorf("audit head", Other, "%s has no checkpoint", h.Where())
	}
	return []byte(v.Checkpoint), ver, nil
}

// WriteHead writes data if the head's version is cas (0: none yet); a
// Conflict error otherwise.
func (h *AuditHead) WriteHead(ctx context.Context, data []byte, cas int) error {
	s, err := h.session(ctx)
	if err != nil {
		return err
	}
	_, err = s.kvWrite(ctx, "audit head", AuditHeadKey, cas, headValue{Checkpoint: string(data), Written: nowString(time.Now())})
	return err
}

// Where names the head, e.g. vault:mattersync/audit/head.
func (h *AuditHead) Where() string { return "vault:" + h.cfg.Layout.KV + "/" + AuditHeadKey }

// Close ends the token renewal of a gateway's session and revokes its
// token (not the admin's).
func (h *AuditHead) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.s != nil && h.auth != nil {
		h.s.close()
		h.s = nil
	}
}

// GatewayLoginOptions tune SetupGatewayLogin.
type GatewayLoginOptions struct {
	// Mount is the AppRole auth mount (default "approle").
	Mount string
	// CIDRs, if set, bind the secret ID and tokens to these source
	// networks (the gateway hosts).
	CIDRs []string
	// NewSecretID creates a secret ID (to give the gateway); otherwise only
	// the role is set up.
	NewSecretID bool
}

// GatewayLogin is what the gateway needs to log in: RoleID goes in its
// config, SecretID in the environment variable it names.
type GatewayLogin struct {
	Mount    string
	Role     string
	RoleID   string
	SecretID string
	Policy   string
}

// String keeps the secret ID out of logs.
func (g GatewayLogin) String() string { return "approle " + g.Role + " at " + g.Mount }

// SetupGatewayLogin sets up, idempotently, the gateway's Vault login for
// the audit head: the policy {{.Name}}-gateway, the AppRole auth mount, the
// role {{.Name}}-gateway with that policy only, and the head's KV metadata
// (check-and-set required, AuditHeadVersions kept). It needs a bootstrap
// (root-like) token, like Init: the admin policy cannot create logins.
func (a *Admin) SetupGatewayLogin(ctx context.Context, opt GatewayLoginOptions, progress Progress) (GatewayLogin, []Step, error) {
	const op = "gateway login"
	l := a.s.layout
	if opt.Mount == "" {
		opt.Mount = "approle"
	}
	if !mountRE.MatchString(opt.Mount) {
		return GatewayLogin{}, nil, errorf(op, Invalid, "auth mount %q is not a mount path", opt.Mount)
	}
	g := GatewayLogin{Mount: opt.Mount, Role: l.Name + "-gateway", Policy: l.Name + "-gateway"}
	var steps []Step
	run := func(name string, f func() (string, error)) error {
		detail, err := f()
		steps = append(steps, progress.report(Step{Name: name, Detail: detail, Err: err}))
		return err
	}
	todo := []struct {
		name string
		f    func() (string, error)
	}{
		{"policy " + g.Policy, func() (string, error) { return a.s.putPolicy(ctx, op, g.Policy, "gateway.hcl", "", false) }},
		{"approle auth " + opt.Mount, func() (string, error) {
			acc, typ, err := a.authMount(ctx, opt.Mount)
			if err != nil {
				return "", err
			}
			if acc != "" {
				if typ != "approle" {
					return "", errorf(op, Conflict, "auth/%s is a %q auth method, not approle", opt.Mount, typ)
				}
				return "unchanged", nil
			}
			if _, err := a.s.write(ctx, op, "sys/auth/"+opt.Mount, map[string]any{"type": "approle", "description": "mattersync gateway"}); err != nil {
				return "", err
			}
			return "created", nil
		}},
		{"role " + g.Role, func() (string, error) {
			body := map[string]any{
				"token_policies": []string{g.Policy}, "token_ttl": "1h", "token_max_ttl": "24h",
				"token_no_default_policy": true, "secret_id_ttl": "0", "bind_secret_id": true,
			}
			if len(opt.CIDRs) > 0 {
				body["secret_id_bound_cidrs"] = opt.CIDRs
				body["token_bound_cidrs"] = opt.CIDRs
			}
			_, err := a.s.write(ctx, op, "auth/"+opt.Mount+"/role/"+g.Role, body)
			return "written", err
		}},
		{"KV " + l.KV + "/" + AuditHeadKey + " keeps " + fmt.Sprint(AuditHeadVersions) + " versions, check-and-set", func() (string, error) {
			_, err := a.s.write(ctx, op, l.kvMetadata(AuditHeadKey), map[string]any{"max_versions": AuditHeadVersions, "cas_required": true})
			return "written", err
		}},
		{"role ID", func() (string, error) {
			sec, err := a.s.read(ctx, op, "auth/"+opt.Mount+"/role/"+g.Role+"/role-id")
			if err != nil {
				return "", err
			}
			g.RoleID, _ = sec.Data["role_id"].(string)
			return g.RoleID, nil
		}},
	}
	if opt.NewSecretID {
		todo = append(todo, struct {
			name string
			f    func() (string, error)
		}{"secret ID", func() (string, error) {
			sec, err := a.s.write(ctx, op, "auth/"+opt.Mount+"/role/"+g.Role+"/secret-id", map[string]any{"metadata": `{"use":"mattersync-gateway audit head"}`})
			if err != nil {
				return "", err
			}
			if sec == nil {
				return "", errorf(op, Other, "Vault returned no secret ID")
			}
			g.SecretID, _ = sec.Data["secret_id"].(string)
			acc, _ := sec.Data["secret_id_accessor"].(string)
			return "created (accessor " + acc + ")", nil
		}})
	}
	for _, t := range todo {
		if err := run(t.name, t.f); err != nil {
			return g, steps, err
		}
	}
	return g, steps, nil
}
