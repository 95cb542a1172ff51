package share

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestSMTPConfigValidate(t *testing.T) {
	ok := SMTPConfig{Host: "smtp.firm.example", Port: 587, From: "Shares <shares@firm.example>", UsernameEnv: "SMTP_USER", PasswordEnv: "SMTP_PASSWORD"}
	if err := ok.Validate(false); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*SMTPConfig)
		dev  bool
		want string
	}{
		{"no host", func(c *SMTPConfig) { c.Host = "" }, false, "smtp.host"},
		{"host with port", func(c *SMTPConfig) { c.Host = "smtp.firm.example:25" }, false, "smtp.host"},
		{"port", func(c *SMTPConfig) { c.Port = 0 }, false, "smtp.port"},
		{"from", func(c *SMTPConfig) { c.From = "not an address" }, false, "smtp.from"},
		{"from with a header", func(c *SMTPConfig) { c.From = "a@b.example\r\nBcc: x@y.example" }, false, "smtp.from"},
		{"tls mode", func(c *SMTPConfig) { c.TLS = "ssl" }, false, "smtp.tls"},
		{"tls none outside dev", func(c *SMTPConfig) { c.TLS, c.UsernameEnv, c.PasswordEnv = "none", "", "" }, false, "insecure_dev"},
		{"tls none with a password", func(c *SMTPConfig) { c.TLS = "none" }, true, "in clear"},
		{"password twice", func(c *SMTPConfig) { c.PasswordFile = "/etc/pw" }, false, "exactly one"},
		{"no password", func(c *SMTPConfig) { c.PasswordEnv = "" }, false, "exactly one"},
		{"password without user", func(c *SMTPConfig) { c.UsernameEnv = "" }, false, "without username_env"},
		{"bad env name", func(c *SMTPConfig) { c.PasswordEnv = "smtp password" }, false, "password_env"},
		{"timeout", func(c *SMTPConfig) { c.Timeout = time.Hour }, false, "timeout"},
	} {
		cfg := ok
		c.edit(&cfg)
		err := cfg.Validate(c.dev)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
	dev := SMTPConfig{Host: "127.0.0.1", Port: 1025, From: "shares@firm.example", TLS: TLSNone}
	if err := dev.Validate(true); err != nil {
		t.Fatalf("dev mail catcher: %v", err)
	}
}

func mailpitConfig(t *testing.T) SMTPConfig {
	mp := testenv.Mailpit(t)
	host, port, err := net.SplitHostPort(mp.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return SMTPConfig{Host: host, Port: p, From: "Firm shares <shares@firm.example>", TLS: TLSNone}
}

// A code mail reaches the recipient's mailbox, subject and body intact
// (non-ASCII too), from the configured sender.
func TestSendThroughMailpit(t *testing.T) {
	cfg := mailpitConfig(t)
	m, err := NewMailer(cfg, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	to := testenv.RandomName("client-") + "@client.example"
	body := "Your code for Müller v. Smith: 482913\nIt expires in 10 minutes.\n"
	if err := m.Send(ctx, to, "Code: Müller", body); err != nil {
		t.Fatal(err)
	}
	msgs, err := testenv.Mailpit(t).WaitMessages(ctx, to, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := msgs[0]
	if got.Subject != "Code: Müller" || got.From != "shares@firm.example" || strings.TrimSpace(strings.ReplaceAll(got.Text, "\r\n", "\n")) != strings.TrimSpace(body) {
		t.Fatalf("received %+v", got)
	}
}

// Refusals that send nothing: a recipient carrying a header, and a relay
// without STARTTLS when starttls is required (the password never crosses
// in clear).
func TestSendRefusals(t *testing.T) {
	cfg := mailpitConfig(t)
	m, err := NewMailer(cfg, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, to := range []string{"a@b.example\r\nBcc: evil@x.example", "Name <a@b.example>", "nobody"} {
		if err := m.Send(ctx, to, "s", "b"); err == nil || !strings.Contains(err.Error(), "not a bare mail address") {
			t.Errorf("Send to %q: %v", to, err)
		}
	}
	cfg.TLS, cfg.UsernameEnv, cfg.PasswordFile = TLSStartTLS, "MATTERSYNC_TEST_SMTP_USER", filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(cfg.PasswordFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MATTERSYNC_TEST_SMTP_USER", "gateway")
	m, err = NewMailer(cfg, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	to := testenv.RandomName("client-") + "@client.example"
	if err := m.Send(ctx, to, "s", "b"); err == nil || !strings.Contains(err.Error(), "offers no STARTTLS") {
		t.Fatalf("starttls against a relay without it: %v", err)
	}
	if msgs, err := testenv.Mailpit(t).Messages(ctx, to); err != nil || len(msgs) != 0 {
		t.Fatalf("messages after refusals: %v, %v", msgs, err)
	}
	cfg.PasswordFile = ""
	cfg.PasswordEnv = "MATTERSYNC_TEST_SMTP_EMPTY"
	if _, err := NewMailer(cfg, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("NewMailer with an empty user: %v", err)
	}
}
