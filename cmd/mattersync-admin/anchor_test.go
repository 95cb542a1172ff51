package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/anchor"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestVerifyAgainstAnchors: `audit anchor-setup` gives the gateway its
// Vault login, the gateway copies its checkpoints to an Object Lock bucket
// and Vault, and offline verify reads both: the newest records deleted
// with their checkpoints are named, never "intact".
func TestVerifyAgainstAnchors(t *testing.T) {
	env := kmstest.Setup(t)
	c := newCLI(t, env)
	mount := testenv.RandomName("t-approle-")
	t.Cleanup(func() { _ = env.Vault.Client(t).Sys().DisableAuth(mount) })
	r := c.must(t, exitOK, "", "audit", "anchor-setup", "--approle-mount", mount)
	roleID := regexp.MustCompile(`role_id: (\S+)`).FindStringSubmatch(r.stdout)
	secretID := regexp.MustCompile(`secret_id: (\S+)`).FindStringSubmatch(r.stdout)
	if roleID == nil || secretID == nil {
		t.Fatalf("anchor-setup printed no role or secret ID: %s", r.stdout)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	head, err := kms.OpenAuditHead(ctx, env.Config, kms.AppRoleAuth{Mount: mount, RoleID: roleID[1], SecretID: secretID[1]})
	if err != nil {
		t.Fatal(err)
	}
	defer head.Close()
	m := testenv.MinIO(t)
	bucket := testenv.RandomName("t-lock-")
	if err := m.Client(t).MakeBucket(ctx, bucket, minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
		t.Fatal(err)
	}
	objs, err := blob.New(blob.Config{Endpoint: m.Endpoint, Bucket: bucket, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	anchors := []gateway.Anchor{anchor.NewS3(objs, bucket, "audit/checkpoints/", time.Hour),
		anchor.NewHead(head, func(err error) bool { return fault.Of(err) == fault.Conflict })}
	g := gatewaytest.Start(t, gatewaytest.Options{Vault: env, Anchors: anchors})
	st := g.Engine.(*sqlite.Store)
	_, pubPEM, _ := gateway.MarshalKeys(g.SigningKey)
	pub := filepath.Join(t.TempDir(), "audit.pub")
	os.WriteFile(pub, pubPEM, 0o644)
	it := env.User(t, true)
	cl := g.Client(t, env.IdentityToken(t, it).Raw, "IT")
	for range 3 {
		for range 10 {
			if _, err := cl.Matters(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.Server.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.environ["MATTERSYNC_S3_ACCESS_KEY"], c.environ["MATTERSYNC_S3_SECRET_KEY"] = m.AccessKey, m.SecretKey
	verify := []string{"audit", "verify", "--store", "sqlite:" + g.SQLitePath, "--public-key", pub,
		"--anchor-bucket", bucket, "--s3-endpoint", m.Endpoint, "--s3-insecure", "--vault-head"}
	r = c.must(t, exitOK, "", verify...)
	if !strings.Contains(r.stdout, "4 copies checked, 4 agree") || !strings.Contains(r.stdout, "audit log intact") || !strings.Contains(r.stderr, "verified 30 of 30 records") {
		t.Fatalf("intact log: %s %s", r.stdout, r.stderr)
	}
	// The attacker deletes the newest 15 records and their checkpoints.
	if _, err := st.DB().Exec(`DELETE FROM audit_records WHERE seq > 15`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`DELETE FROM audit_checkpoints WHERE seq > 15`); err != nil {
		t.Fatal(err)
	}
	r = c.must(t, exitFailure, "", verify...)
	if !strings.Contains(r.stdout, "PROBLEM truncated: records 16 to 30 are missing") || !strings.Contains(r.stdout, "anchored outside it at") ||
		!strings.Contains(r.stderr, "AUDIT LOG BROKEN at record 16") {
		t.Fatalf("deleted tail: %s %s", r.stdout, r.stderr)
	}
}
