package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

func TestKeygenAndCheckConfig(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "audit.pem")
	out, err := run(t, "keygen", "--out", key)
	if err != nil || !strings.Contains(out, "BEGIN PUBLIC KEY") {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", st, err)
	}
	if _, err := run(t, "keygen", "--out", key); err == nil {
		t.Fatal("keygen overwrote an existing key")
	}
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte(`
listen: "127.0.0.1:0"
insecure_dev: true
s3: {endpoint: "127.0.0.1:9000", bucket: b, insecure: true}
store: {driver: sqlite, sqlite_path: "`+filepath.Join(dir, "gw.db")+`"}
vault: {address: "http://127.0.0.1:8200"}
audit: {signing_key_file: "`+key+`"}
`), 0o600)
	t.Setenv("MATTERSYNC_S3_ACCESS_KEY", "")
	t.Setenv("MATTERSYNC_S3_SECRET_KEY", "")
	if _, err := run(t, "--config", cfg, "--check-config"); err == nil || !strings.Contains(err.Error(), "MATTERSYNC_S3_ACCESS_KEY") {
		t.Fatalf("check-config without secrets: %v", err)
	}
	t.Setenv("MATTERSYNC_S3_ACCESS_KEY", "AKIAEXAMPLE")
	t.Setenv("MATTERSYNC_S3_SECRET_KEY", "very-secret-value")
	out, err = run(t, "--config", cfg, "--check-config")
	if err != nil || !strings.HasPrefix(out, "config OK") || strings.Contains(out, "very-secret-value") {
		t.Fatalf("check-config: %v\n%s", err, out)
	}
	os.WriteFile(key, []byte("not a key"), 0o600)
	if _, err := run(t, "--config", cfg, "--check-config"); err == nil {
		t.Fatal("check-config accepted a broken signing key")
	}
}
