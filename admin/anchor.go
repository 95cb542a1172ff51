package admin

// The copies of the audit checkpoints outside the gateway's database
// (gateway/anchor): read for offline verification, and the gateway's Vault
// login that writes the head.

import (
	"context"
	"strings"

	"github.com/mattersync/mattersync/gateway/anchor"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// AnchorOptions say where the copies are.
type AnchorOptions struct {
	// S3 copies: Bucket empty means none. Credentials may be read-only
	// (an auditor's): verification only lists and reads.
	Endpoint  string
	Region    string
	Insecure  bool // plain HTTP to S3
	Bucket    string
	Prefix    string
	AccessKey string
	SecretKey string
	// VaultHead reads the head with the session's Vault login (the admin
	// policy may read it).
	VaultHead bool
}

// String keeps the secret key out of logs.
func (o AnchorOptions) String() string { return "anchors s3://" + o.Bucket + "/" + o.Prefix }

// Witnesses opens the copies o names, for audit.VerifyOptions.Witnesses.
func (s *Session) Witnesses(ctx context.Context, o AnchorOptions) ([]audit.Witness, error) {
	var out []audit.Witness
	if o.Bucket != "" {
		if o.Endpoint == "" || strings.Contains(o.Endpoint, "://") {
			return nil, fault.Errorf(fault.Invalid, "the anchors' S3 endpoint %q must be host[:port]", o.Endpoint)
		}
		if o.AccessKey == "" || o.SecretKey == "" {
			return nil, fault.Errorf(fault.Invalid, "reading the anchors in s3://%s needs S3 credentials (MATTERSYNC_S3_ACCESS_KEY, MATTERSYNC_S3_SECRET_KEY; read-only is enough)", o.Bucket)
		}
		prefix := o.Prefix
		if prefix == "" {
			prefix = "audit/checkpoints/"
		}
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		b, err := blob.New(blob.Config{Endpoint: o.Endpoint, Bucket: o.Bucket, Region: o.Region, AccessKey: o.AccessKey, SecretKey: o.SecretKey, Secure: !o.Insecure})
		if err != nil {
			return nil, fault.Wrap(fault.Invalid, err)
		}
		out = append(out, anchor.NewS3(b, o.Bucket, prefix, 0))
	}
	if o.VaultHead {
		if s.Vault == nil {
			return nil, fault.Errorf(fault.Invalid, "reading the audit head needs a Vault login")
		}
		out = append(out, anchor.NewHead(s.Vault.AuditHead(), func(err error) bool { return fault.Of(err) == fault.Conflict }))
	}
	return out, nil
}

// SetupGatewayLogin sets up the gateway's Vault login for the audit head
// (policy, AppRole, role, the head's KV metadata) and, with newSecretID, a
// secret ID to give the gateway. It needs a bootstrap (root-like) token.
func (s *Session) SetupGatewayLogin(ctx context.Context, opt kms.GatewayLoginOptions) (kms.GatewayLogin, error) {
	if s.Vault == nil {
		return kms.GatewayLogin{}, fault.Errorf(fault.Invalid, "setting up the gateway's login needs a Vault login")
	}
	g, _, err := s.Vault.SetupGatewayLogin(ctx, opt, s.kmsProgress())
	return g, err
}
