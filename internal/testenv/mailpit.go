package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// MailpitServer is a running Mailpit: an SMTP server that keeps every
// message it receives, and an HTTP API to read them. It stands in for the
// firm's mail relay (share recipients' one-time codes, issue 17).
type MailpitServer struct {
	SMTPAddr string // host:port, plain SMTP (STARTTLS not offered), any or no AUTH accepted
	APIURL   string // http://host:port, Mailpit's web UI and /api/v1
	proc     *process
}

var sharedMailpit struct {
	once sync.Once
	m    *MailpitServer
	err  error
}

// Mailpit returns the Mailpit server shared by the tests of this package,
// starting it on first use. Tests sharing it use their own recipient
// addresses (RandomName) and read only those (Messages).
func Mailpit(t testing.TB) *MailpitServer {
	t.Helper()
	skipShort(t, "Mailpit")
	sharedMailpit.once.Do(func() {
		sharedMailpit.m, sharedMailpit.err = StartMailpit("")
		if sharedMailpit.err == nil {
			registerStop(sharedMailpit.m.Stop)
		}
	})
	if sharedMailpit.err != nil {
		unavailable(t, "%v", sharedMailpit.err)
	}
	return sharedMailpit.m
}

// StartMailpit starts Mailpit (bin, or FindBinary when empty) with its SMTP
// server and its HTTP API on free loopback ports and a database in a temp
// dir; Stop ends it and removes the dir. make run uses it too.
func StartMailpit(bin string) (*MailpitServer, error) {
	if bin == "" {
		var err error
		if bin, err = FindBinary("mailpit"); err != nil {
			return nil, err
		}
	}
	smtp, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	api, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	m := &MailpitServer{SMTPAddr: smtp, APIURL: "http://" + api}
	m.proc, err = startProcess("mailpit", bin,
		[]string{"--smtp", smtp, "--listen", api, "--database", "mailpit.db",
			"--smtp-auth-accept-any", "--smtp-auth-allow-insecure", // the gateway may be configured with credentials
			"--smtp-disable-rdns", "--disable-version-check", "--quiet"},
		nil, func(string) string { return m.APIURL + "/readyz" })
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Stop stops Mailpit and removes its directory.
func (m *MailpitServer) Stop() {
	if m.proc != nil {
		m.proc.stop()
	}
}

// Mail is a message Mailpit received, as its API reports it.
type Mail struct {
	ID      string
	From    string
	To      []string
	Subject string
	Text    string // the plain-text body
}

// Messages returns the messages received for the address to, newest first.
func (m *MailpitServer) Messages(ctx context.Context, to string) ([]Mail, error) {
	var list struct {
		Messages []struct {
			ID      string
			Subject string
			From    struct{ Address string }
			To      []struct{ Address string }
		} `json:"messages"`
	}
	q := url.Values{"query": {fmt.Sprintf("to:%q", to)}, "limit": {"100"}}
	if err := m.getJSON(ctx, "/api/v1/search?"+q.Encode(), &list); err != nil {
		return nil, err
	}
	var out []Mail
	for _, s := range list.Messages {
		var body struct{ Text string }
		if err := m.getJSON(ctx, "/api/v1/message/"+url.PathEscape(s.ID), &body); err != nil {
			return nil, err
		}
		mail := Mail{ID: s.ID, From: s.From.Address, Subject: s.Subject, Text: body.Text}
		for _, a := range s.To {
			mail.To = append(mail.To, a.Address)
		}
		out = append(out, mail)
	}
	return out, nil
}

// WaitMessages polls until at least n messages for to arrived (or ctx
// ends) and returns them, newest first.
func (m *MailpitServer) WaitMessages(ctx context.Context, to string, n int) ([]Mail, error) {
	for {
		msgs, err := m.Messages(ctx, to)
		if err == nil && len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			return msgs, fmt.Errorf("testenv: mailpit: %d of %d messages for %s: %w", len(msgs), n, to, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *MailpitServer) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("testenv: mailpit API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("testenv: mailpit API %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("testenv: mailpit API %s: %w", path, err)
	}
	return nil
}

// String renders the server for logs.
func (m *MailpitServer) String() string { return "mailpit smtp " + m.SMTPAddr + " api " + m.APIURL }
