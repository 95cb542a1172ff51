package gateway

import (
	"strings"
	"time"
)

// Anchors configures the copies of signed audit checkpoints kept outside
// the database (docs/EVIDENCE.md). Without any, whoever holds the database
// can shorten the log unseen once the gateway restarts.
type Anchors struct {
	S3    S3Anchors    `yaml:"s3"`
	Vault VaultAnchors `yaml:"vault"`
}

// S3Anchors: every checkpoint as an object under Object Lock in
// compliance mode.
type S3Anchors struct {
	Enabled bool `yaml:"enabled"`
	// Bucket must have Object Lock enabled (it can only be enabled when a
	// bucket is created); default s3.bucket. Reached with the s3 section's
	// endpoint and credentials.
	Bucket string `yaml:"bucket"`
	// Prefix of the copies' keys, default "audit/checkpoints/".
	Prefix string `yaml:"prefix"`
	// Retention: how long each copy is locked after its checkpoint (7
	// years by default). Compliance mode: no one can shorten it.
	Retention time.Duration `yaml:"retention"`
}

// VaultAnchors: the newest checkpoint in Vault's KV store, written with
// check-and-set by the gateway's own AppRole login (policy
// <name>-gateway: that one path only).
type VaultAnchors struct {
	Enabled bool `yaml:"enabled"`
	// KVMount is mattersync's KV v2 mount (kms layout.kv), default
	// "mattersync"; the head is <kv_mount>/audit/head.
	KVMount string `yaml:"kv_mount"`
	// AuthMount is the AppRole auth mount, default "approle".
	AuthMount string `yaml:"auth_mount"`
	// RoleID is the AppRole role ID (not a secret), printed by
	// `mattersync-admin audit anchor-setup`.
	RoleID string `yaml:"role_id"`
	// SecretIDEnv names the variable holding the secret ID.
	SecretIDEnv string `yaml:"secret_id_env"`
}

// DefaultAnchorRetention is 7 years.
const DefaultAnchorRetention = 7 * 365 * 24 * time.Hour

func defaultAnchors() Anchors {
	return Anchors{
		S3:    S3Anchors{Prefix: "audit/checkpoints/", Retention: DefaultAnchorRetention},
		Vault: VaultAnchors{KVMount: "mattersync", AuthMount: "approle", SecretIDEnv: "MATTERSYNC_VAULT_SECRET_ID"},
	}
}

// validate adds the anchors' problems to bad.
func (a *Anchors) validate(c *Config, bad func(string, ...any)) {
	if a.S3.Enabled {
		p := a.S3.Prefix
		if p == "" || strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || strings.Contains(p, "//") || strings.Contains(p, "..") {
			bad("audit.anchors.s3.prefix: %q must be a relative key prefix ending in /", p)
		}
		if a.S3.Retention < 24*time.Hour || a.S3.Retention > 100*365*24*time.Hour {
			bad("audit.anchors.s3.retention must be between 24h and 100 years")
		}
	}
	if a.Vault.Enabled {
		if c.Vault.Address == "" {
			bad("audit.anchors.vault needs vault.address")
		}
		if a.Vault.RoleID == "" {
			bad("audit.anchors.vault.role_id is required (mattersync-admin audit anchor-setup prints it)")
		}
		if !validEnvName(a.Vault.SecretIDEnv) {
			bad("audit.anchors.vault.secret_id_env must name an environment variable")
		}
		if a.Vault.KVMount == "" || a.Vault.AuthMount == "" {
			bad("audit.anchors.vault.kv_mount and auth_mount must not be empty")
		}
	}
}
