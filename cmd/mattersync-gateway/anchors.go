package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/anchor"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// openAnchors wires the copies of audit checkpoints outside the database
// (docs/EVIDENCE.md): the S3 bucket under Object Lock, checked now (the
// gateway does not start on a bucket without it), and the head in Vault,
// logged in on first use (the gateway starts while Vault is away). ctx
// governs the Vault login's renewal; checkCtx bounds the startup check.
func openAnchors(ctx, checkCtx context.Context, cfg gateway.Config, secrets gateway.Secrets, blobs *blob.Store, log *slog.Logger) ([]gateway.Anchor, func(), error) {
	var out []gateway.Anchor
	closers := func() {}
	if a := cfg.Audit.Anchors.S3; a.Enabled {
		objs, bucket := blobs, cfg.S3.Bucket
		if a.Bucket != "" && a.Bucket != cfg.S3.Bucket {
			var err error
			bucket = a.Bucket
			objs, err = blob.New(blob.Config{Endpoint: cfg.S3.Endpoint, Bucket: bucket, Region: cfg.S3.Region,
				AccessKey: secrets.S3AccessKey, SecretKey: secrets.S3SecretKey, Secure: !cfg.S3.Insecure})
			if err != nil {
				return nil, nil, err
			}
		}
		s3 := anchor.NewS3(objs, bucket, a.Prefix, a.Retention)
		if err := s3.Check(checkCtx); err != nil {
			return nil, nil, err
		}
		out = append(out, s3)
	}
	if a := cfg.Audit.Anchors.Vault; a.Enabled {
		kc := kms.DefaultConfig()
		kc.Address, kc.CACert, kc.Logger = cfg.Vault.Address, cfg.Vault.CACertFile, log
		kc.Layout.KV = a.KVMount
		h, err := kms.OpenAuditHead(ctx, kc, kms.AppRoleAuth{Mount: a.AuthMount, RoleID: a.RoleID, SecretID: secrets.VaultSecretID})
		if err != nil {
			return nil, nil, err
		}
		closers = h.Close
		out = append(out, anchor.NewHead(h, func(err error) bool { return fault.Of(err) == fault.Conflict }))
	}
	if len(out) == 0 {
		log.Warn("audit anchors are off: checkpoints live only in the database, whose writers can shorten the log unseen once the gateway restarts (set audit.anchors, docs/EVIDENCE.md)")
	}
	return out, closers, nil
}

// alertSinks builds the sinks audit.alerts names: the webhook (its HMAC
// key from the environment) and syslog.
func alertSinks(cfg gateway.Config, secrets gateway.Secrets) ([]alerts.Sink, func(), error) {
	a := cfg.Audit.Alerts
	var out []alerts.Sink
	closers := func() {}
	if !a.Enabled {
		return nil, closers, nil
	}
	if a.Webhook.URL != "" {
		w, err := alerts.NewWebhook(a.Webhook, []byte(secrets.AlertWebhookSecret))
		if err != nil {
			return nil, nil, fmt.Errorf("%w (%s)", err, a.Webhook.SecretEnv)
		}
		out = append(out, w)
	}
	if a.Syslog.Address != "" {
		s, err := alerts.NewSyslog(a.Syslog)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s)
		closers = s.Close
	}
	return out, closers, nil
}
