// Package share holds the pieces of sharing with people outside the firm
// (docs/SHARING.md) that stand apart from the gateway's routes: for now,
// the mail that carries a recipient's one-time code.
package share

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"time"
)

// TLS modes of the connection to the mail relay.
const (
	TLSStartTLS = "starttls" // plain connect, then STARTTLS, required (port 587); the default
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // no TLS: a development mail catcher only (insecure_dev)
)

// SMTPConfig is the mail relay the gateway sends one-time codes through.
// Credentials are never inline: the user name and password come from
// environment variables or a file.
type SMTPConfig struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// From is the sender address, e.g. "Firm shares <shares@firm.example>".
	From string `yaml:"from"`
	// TLS is starttls (default), tls or none (with insecure_dev only).
	TLS string `yaml:"tls"`
	// CACertFile verifies the relay's certificate with this CA instead of
	// the system's.
	CACertFile string `yaml:"ca_cert_file"`
	// UsernameEnv names the variable holding the user name; empty: no
	// authentication.
	UsernameEnv string `yaml:"username_env"`
	// PasswordEnv or PasswordFile (one of them, with UsernameEnv) holds
	// the password.
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// Timeout bounds one message, connect to quit; default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Validate reports every problem in c at once. insecureDev allows tls: none.
func (c *SMTPConfig) Validate(insecureDev bool) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("smtp."+format, args...)) }
	if c.Host == "" || strings.ContainsAny(c.Host, ":/ ") {
		bad("host: %q must be a host name or address, without port or scheme", c.Host)
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("port: %d is not a TCP port", c.Port)
	}
	if a, err := mail.ParseAddress(c.From); err != nil || strings.ContainsAny(c.From, "\r\n") {
		bad("from: %q is not a mail address", c.From)
	} else if a.Address == "" {
		bad("from is required")
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !insecureDev {
			bad("tls: none requires insecure_dev: true (codes would cross the network in clear)")
		}
		if c.UsernameEnv != "" {
			bad("tls: none with username_env: the password would cross the network in clear")
		}
	default:
		bad("tls: %q is not starttls, tls or none", c.TLS)
	}
	if c.CACertFile != "" && c.TLS == TLSNone {
		bad("ca_cert_file with tls: none")
	}
	if c.UsernameEnv != "" {
		if !envName(c.UsernameEnv) {
			bad("username_env: %q is not an environment variable name", c.UsernameEnv)
		}
		switch {
		case (c.PasswordEnv == "") == (c.PasswordFile == ""):
			bad("username_env needs exactly one of password_env and password_file")
		case c.PasswordEnv != "" && !envName(c.PasswordEnv):
			bad("password_env: %q is not an environment variable name", c.PasswordEnv)
		}
	} else if c.PasswordEnv != "" || c.PasswordFile != "" {
		bad("password_env or password_file without username_env")
	}
	if c.Timeout < 0 || c.Timeout > 10*time.Minute {
		bad("timeout: %v must be between 0 (default 30s) and 10m", c.Timeout)
	}
	return errors.Join(errs...)
}

func envName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Mailer sends plain-text mail through the relay of an SMTPConfig.
type Mailer struct {
	cfg      SMTPConfig
	from     *mail.Address
	user     string
	password string // never logged
	tls      *tls.Config
}

// NewMailer checks c (call Validate first) and reads its credentials:
// getenv for the variables (os.Getenv in the gateway), the password file
// from disk.
func NewMailer(c SMTPConfig, getenv func(string) string) (*Mailer, error) {
	m := &Mailer{cfg: c, tls: &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}}
	if m.cfg.TLS == "" {
		m.cfg.TLS = TLSStartTLS
	}
	if m.cfg.Timeout == 0 {
		m.cfg.Timeout = 30 * time.Second
	}
	var err error
	if m.from, err = mail.ParseAddress(c.From); err != nil {
		return nil, fmt.Errorf("share: smtp.from: %w", err)
	}
	if c.CACertFile != "" {
		pem, err := os.ReadFile(c.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("share: smtp.ca_cert_file: %w", err)
		}
		m.tls.RootCAs = x509.NewCertPool()
		if !m.tls.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("share: smtp.ca_cert_file %s holds no PEM certificate", c.CACertFile)
		}
	}
	if c.UsernameEnv != "" {
		if m.user = getenv(c.UsernameEnv); m.user == "" {
			return nil, fmt.Errorf("share: smtp.username_env: $%s is empty", c.UsernameEnv)
		}
		if c.PasswordEnv != "" {
			m.password = getenv(c.PasswordEnv)
		} else {
			b, err := os.ReadFile(c.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("share: smtp.password_file: %w", err)
			}
			m.password = strings.TrimRight(string(b), "\r\n")
		}
		if m.password == "" {
			return nil, errors.New("share: smtp: the password is empty")
		}
	}
	return m, nil
}

// Send sends one plain-text message to the address to. The subject and
// body are the gateway's own text; to must be a bare address.
func (m *Mailer) Send(ctx context.Context, to, subject, body string) error {
	a, err := mail.ParseAddress(to)
	if err != nil || a.Address != to || strings.ContainsAny(to, "\r\n") {
		return fmt.Errorf("share: send: %q is not a bare mail address", to)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("share: smtp %s: %w", addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("share: smtp %s: %w", addr, err)
	}
	if m.cfg.TLS == TLSImplicit {
		tc := tls.Client(conn, m.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("share: smtp %s: TLS: %w", addr, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, m.cfg.Host)
	if err != nil {
		return fmt.Errorf("share: smtp %s: %w", addr, err)
	}
	defer c.Close()
	if m.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("share: smtp %s offers no STARTTLS (tls: starttls requires it; nothing was sent)", addr)
		}
		if err := c.StartTLS(m.tls); err != nil {
			return fmt.Errorf("share: smtp %s: STARTTLS: %w", addr, err)
		}
	}
	if m.user != "" {
		if err := c.Auth(smtp.PlainAuth("", m.user, m.password, m.cfg.Host)); err != nil {
			return fmt.Errorf("share: smtp %s: authentication as %s: %w", addr, m.user, err)
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return fmt.Errorf("share: smtp %s: MAIL FROM: %w", addr, err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("share: smtp %s: RCPT TO: %w", addr, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("share: smtp %s: DATA: %w", addr, err)
	}
	if _, err := w.Write(m.message(to, subject, body)); err != nil {
		return fmt.Errorf("share: smtp %s: DATA: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("share: smtp %s: message refused: %w", addr, err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("share: smtp %s: QUIT: %w", addr, err)
	}
	return nil
}

// message renders the message: the subject encoded for headers (it is
// never raw header text), the body quoted-printable.
func (m *Mailer) message(to, subject, body string) []byte {
	var id [12]byte
	_, _ = rand.Read(id[:])
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n",
		m.from.String(), to, mime.QEncoding.Encode("utf-8", subject), time.Now().Format(time.RFC1123Z), hex.EncodeToString(id[:]), m.domain())
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(body)) // line breaks become CRLF
	_ = qp.Close()
	return b.Bytes()
}

func (m *Mailer) domain() string {
	if _, d, ok := strings.Cut(m.from.Address, "@"); ok {
		return d
	}
	return "mattersync"
}
