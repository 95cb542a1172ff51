package gateway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
)

func TestExampleConfigs(t *testing.T) {
	files, _ := filepath.Glob("../configs/gateway*.yaml")
	if len(files) < 2 {
		t.Fatalf("example configs: %v", files)
	}
	for _, f := range files {
		cfg, err := gateway.LoadConfig(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if cfg.Vault.JWKSURL != "https://vault.firm.example:8200/v1/identity/oidc/.well-known/keys" || cfg.Limits.DenyMaxStaleness != time.Second {
			t.Errorf("%s: derived/default values: %+v", f, cfg.Vault)
		}
	}
}

const minimal = `
insecure_dev: true
s3: {endpoint: "127.0.0.1:9000", bucket: b, insecure: true}
vault: {address: "http://127.0.0.1:8200"}
audit: {signing_key_file: k.pem}
`

// TestPostgresSSLMode: a DSN must verify the server's certificate, unless
// insecure_dev.
func TestPostgresSSLMode(t *testing.T) {
	const secure = `
tls: {cert_file: c.pem, key_file: k.pem}
s3: {endpoint: "s3.firm.example:9000", bucket: b}
vault: {address: "https://vault.firm.example:8200"}
audit: {signing_key_file: k.pem}
store: {driver: postgres, postgres_dsn: "%s"}
`
	for dsn, want := range map[string]string{
		"postgres://u@db/x?sslmode=verify-full":                 "",
		"postgres://u@db/x?sslmode=verify-ca&connect_timeout=5": "",
		"postgres://u@db/x":                                     "store.postgres_dsn: must set sslmode=verify-full",
		"postgres://u@db/x?sslmode=require":                     "store.postgres_dsn: sslmode=require does not verify the server",
		"postgres://u@db/x?sslmode=prefer":                      "store.postgres_dsn: sslmode=prefer does not verify",
		"postgres://u@db/x?sslmode=disable":                     "store.postgres_dsn: sslmode=disable does not verify",
		"postgres://u@db/x?sslmode=verify-full&sslmode=disable": "store.postgres_dsn: sslmode given more than once",
	} {
		_, err := gateway.ParseConfig([]byte(fmt.Sprintf(secure, dsn)))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", dsn, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want %q", dsn, err, want)
		}
	}
	// A developer's machine may talk plain text to a local database.
	dev := minimal + "store: {driver: postgres, postgres_dsn: 'postgres://u@127.0.0.1/x?sslmode=disable'}\n"
	if _, err := gateway.ParseConfig([]byte(dev)); err != nil {
		t.Fatalf("insecure_dev with sslmode=disable: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := gateway.ParseConfig([]byte(minimal)); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", minimal + "lsten: x\n", "field lsten not found"},
		{"unknown nested key", strings.Replace(minimal, "bucket: b", "bucket: b, acces_key: x", 1), "field acces_key not found"},
		{"two documents", minimal + "---\nlisten: x\n", "more than one YAML document"},
		{"no TLS without insecure_dev", strings.Replace(minimal, "insecure_dev: true", "insecure_dev: false", 1), "tls: cert_file and key_file are required"},
		{"half TLS", minimal + "tls: {cert_file: a}\n", "set both cert_file and key_file"},
		{"s3 scheme", strings.Replace(minimal, `"127.0.0.1:9000"`, `"http://x:9000"`, 1), "s3.endpoint"},
		{"no bucket", strings.Replace(minimal, "bucket: b", "bucket: ''", 1), "s3.bucket is required"},
		{"password in DSN", minimal + "store: {driver: postgres, postgres_dsn: 'postgres://u:secret@db/x'}\n", "must not contain a password"},
		{"password DSN param", minimal + "store: {driver: postgres, postgres_dsn: 'postgres://u@db/x?password=secret'}\n", "must not contain a password"},
		{"bad driver", minimal + "store: {driver: mysql}\n", "not sqlite or postgres"},
		{"no vault", strings.Replace(minimal, `vault: {address: "http://127.0.0.1:8200"}`, "", 1), "vault.issuer is required"},
		{"bad duration", minimal + "limits: {max_wait: forever}\n", "into time.Duration"},
		{"huge wait", minimal + "limits: {max_wait: 1h}\n", "max_wait must be between"},
		{"slow deny poll", minimal + "limits: {poll_interval: 2s}\n", "poll_interval"},
		{"no signing key", strings.Replace(minimal, "audit: {signing_key_file: k.pem}", "", 1), "signing_key_file is required"},
		{"bad ops listen", minimal + "ops_listen: 9090\n", "ops_listen: \"9090\" is not host:port"},
		{"ops on the API port", minimal + "listen: ':8443'\nops_listen: '127.0.0.1:8443'\n", "ops_listen: port 8443 is the API's"},
		{"reissue leeway", strings.Replace(minimal, `vault: {address: "http://127.0.0.1:8200"}`, `vault: {address: "http://127.0.0.1:8200", reissue_leeway: -1s}`, 1), "vault.reissue_leeway must be between 0 and 1m"},
		{"bad proxy", minimal + "trusted_proxies: [10.0.0.1]\n", "not a CIDR"},
		{"inflight below a commit", minimal + "limits: {max_inflight_bytes: 1048576}\n", "max_inflight_bytes must be at least"},
		{"batch beyond the burst", minimal + "limits: {burst: 10, max_batch_items: 101}\n", "limits.burst must be at least twice limits.max_batch_items"},
		{"token lifetime", strings.Replace(minimal, `vault: {address: "http://127.0.0.1:8200"}`, `vault: {address: "http://127.0.0.1:8200", max_token_lifetime: 30s}`, 1), "vault.max_token_lifetime must be between"},
		{"no source limit", minimal + "limits: {unauthenticated_burst: 0}\n", "limits.unauthenticated_per_second and limits.unauthenticated_burst must be positive"},
		{"console role with a path", minimal + "console: {vault_token_role: '../sys'}\n", "console.vault_oidc_mount, console.vault_token_role and console.vault_kv_mount"},
		{"console vault not a URL", minimal + "console: {vault_address: 'vault:8200'}\n", "console.vault_address must be"},
		{"bad env name", strings.Replace(minimal, "insecure: true", "insecure: true, access_key_env: 'MY KEY'", 1), "must name environment variables"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := gateway.ParseConfig([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestSecretsFromEnv(t *testing.T) {
	cfg, err := gateway.ParseConfig([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MATTERSYNC_S3_ACCESS_KEY": "AKIA", "MATTERSYNC_S3_SECRET_KEY": "hunter2"}
	s, err := cfg.Secrets(func(k string) string { return env[k] })
	if err != nil || s.S3SecretKey != "hunter2" {
		t.Fatalf("Secrets = %v", err)
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := sprintf(f, s); strings.Contains(out, "hunter2") || strings.Contains(out, "AKIA") {
			t.Fatalf("%s prints a secret: %s", f, out)
		}
	}
	delete(env, "MATTERSYNC_S3_SECRET_KEY")
	if _, err := cfg.Secrets(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "MATTERSYNC_S3_SECRET_KEY") {
		t.Fatalf("missing secret: %v", err)
	}
}

func TestSigningKeyFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := gateway.LoadSigningKey(filepath.Join(dir, "none.pem")); err == nil {
		t.Fatal("missing key file accepted")
	}
	os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
	if _, err := gateway.LoadSigningKey(filepath.Join(dir, "junk.pem")); err == nil {
		t.Fatal("junk key accepted")
	}
}

func sprintf(f string, v any) string { return fmt.Sprintf(f, v) }

// TestSharingConfig: the sharing: section is strict, takes its defaults
// for what it leaves out, and names each problem; without it sharing is
// off.
func TestSharingConfig(t *testing.T) {
	cfg, err := gateway.ParseConfig([]byte(minimal))
	if err != nil || cfg.Sharing != nil {
		t.Fatalf("no sharing section: %+v, %v", cfg.Sharing, err)
	}
	ok := minimal + `
sharing:
  default: on
  public_url: http://127.0.0.1:8443
  smtp: {host: 127.0.0.1, port: 1025, from: "Shares <shares@firm.test>", tls: none}
  codes: {wrong_per_share: 3}
`
	cfg, err = gateway.ParseConfig([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sharing
	if s.Default != "on" || s.Codes.WrongPerShare != 3 || s.Codes.SentPerShare != 5 || s.Codes.WrongPerAddress != 10 || s.CodeTTL != 10*time.Minute ||
		s.MaxObjectBytes != 2<<30 || s.DefaultExpiry != 7*24*time.Hour || s.MaxExpiry != 30*24*time.Hour || s.DefaultMaxDownloads != 3 || s.Link("ab") != "http://127.0.0.1:8443/s/ab" {
		t.Fatalf("sharing defaults: %+v", s)
	}
	for _, c := range []struct{ yaml, want string }{
		{"sharing: {default: maybe, public_url: 'https://s.example', smtp: {host: h, port: 25, from: a@b.c}}", "sharing.default"},
		{"sharing: {public_url: 'ftp://s.example', smtp: {host: h, port: 25, from: a@b.c}}", "sharing.public_url"},
		{"sharing: {public_url: 'https://s.example/#x', smtp: {host: h, port: 25, from: a@b.c}}", "sharing.public_url"},
		{"sharing: {public_url: 'https://s.example', smtp: {host: h, port: 25, from: a@b.c}, max_object_bytes: 6000000000}", "sharing.max_object_bytes"},
		{"sharing: {public_url: 'https://s.example', smtp: {host: h, port: 25, from: a@b.c}, default_max_downloads: 30}", "sharing.default_max_downloads"},
		{"sharing: {public_url: 'https://s.example', smtp: {host: h, port: 25, from: a@b.c}, codes: {wrong_per_share: 1000}}", "sharing.codes"},
		{"sharing: {public_url: 'https://s.example', smtp: {port: 25, from: a@b.c}}", "smtp.host"},
		{"sharing: {public_url: 'https://s.example', smtp: {host: h, port: 25, from: a@b.c}, unknown_key: 1}", "unknown_key"},
	} {
		_, err := gateway.ParseConfig([]byte(minimal + c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.yaml, err, c.want)
		}
	}
	// Plain http and tls: none only with insecure_dev.
	secure := strings.Replace(ok, "insecure_dev: true", "insecure_dev: false\ntls: {cert_file: c, key_file: k}", 1)
	secure = strings.Replace(secure, "s3: {endpoint: \"127.0.0.1:9000\", bucket: b, insecure: true}", "s3: {endpoint: \"127.0.0.1:9000\", bucket: b}", 1)
	secure = strings.Replace(secure, "http://127.0.0.1:8200", "https://127.0.0.1:8200", 1)
	_, err = gateway.ParseConfig([]byte(secure))
	if err == nil || !strings.Contains(err.Error(), "sharing.public_url: plain http requires insecure_dev") || !strings.Contains(err.Error(), "tls: none requires insecure_dev") {
		t.Fatalf("secure config with http and tls none: %v", err)
	}
}
