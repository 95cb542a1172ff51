package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// Issue 21: status showed raw errors ("gateway: 403 forbidden", "context
// canceled" with a URL). Each kind of failure is one sentence a lawyer can
// act on; a pass stopped on purpose says nothing.
func TestExplainSaysSentences(t *testing.T) {
	gw := func(status int, code api.Code) error {
		return fmt.Errorf("change feed: %w", &client.Error{Status: status, Body: api.Error{Code: code, Message: string(code)}})
	}
	canceled := &url.Error{Op: "Get", URL: "https://gw.firm.example/v1/matters/2026-0001/changes", Err: context.Canceled}
	for _, c := range []struct {
		name string
		err  error
		want string // a word the sentence must hold; "" for no sentence
	}{
		{"canceled with a URL", fmt.Errorf("change feed: %w", canceled), ""},
		{"forbidden", gw(403, api.CodeForbidden), "access may have been changed"},
		{"revoked", fmt.Errorf("%w: %w", ErrRevoked, gw(403, api.CodeRevoked)), "revoked by the firm"},
		{"unreachable", fault.Wrap(fault.Unavailable, errors.New("dial tcp 10.0.0.1:443: connection refused")), "cannot be reached"},
		{"rate limited", gw(429, api.CodeRateLimited), "cannot be reached"},
		{"expired login", fault.Wrap(fault.Unauthenticated, errors.New("token expired")), "mattersync login"},
		{"no such matter", gw(404, api.CodeNotFound), "does not know this matter"},
		{"vault sealed", &kms.Error{Op: "epoch key", Kind: kms.Sealed}, "sealed"},
		{"tampered", fmt.Errorf("commit: %w", errTampered), "tampering"},
		{"forged", fmt.Errorf("manifest: %w", format.ErrAuth), "tampering"},
		{"local", fmt.Errorf("matter folder: %w", localErr(&fs.PathError{Op: "open", Path: "Brief.docx", Err: errors.New("permission denied")})), "cannot be read or written"},
		{"anything else", errors.New("gateway: 500 internal: boom"), "tell IT"},
	} {
		got := explain(c.err)
		if c.want == "" {
			if got != "" {
				t.Errorf("%s: %q, want nothing", c.name, got)
			}
			continue
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: %q does not say %q", c.name, got, c.want)
		}
		for _, raw := range []string{"http", "403", "404", "429", "500", "context", "dial", "gateway:"} {
			if strings.Contains(got, raw) {
				t.Errorf("%s: %q shows the raw %q", c.name, got, raw)
			}
		}
	}
}
