package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
)

// TestRetryAfter: what the agent sends again at once (rate limits, an
// unavailable gateway, a body cut on the way) and what it leaves to the
// pass's problems (a refusal that sending again cannot change).
func TestRetryAfter(t *testing.T) {
	e := func(status int, code api.Code, after time.Duration) error {
		return fmt.Errorf("put chunk: %w", &client.Error{Status: status, Body: api.Error{Code: code}, RetryAfter: after})
	}
	for _, c := range []struct {
		err  error
		ok   bool
		wait time.Duration
	}{
		{e(429, api.CodeRateLimited, 3*time.Second), true, 3 * time.Second},
		{e(503, api.CodeUnavailable, 0), true, time.Second},
		{e(400, api.CodeIncompleteBody, 0), true, time.Second},
		{e(400, api.CodeInvalidRequest, 0), false, 0},
		{e(400, api.CodeChecksumMismatch, 0), false, 0},
		{e(403, api.CodeForbidden, 0), false, 0},
		{nil, false, 0},
	} {
		wait, ok := retryAfter(c.err)
		if ok != c.ok || wait != c.wait {
			t.Errorf("retryAfter(%v) = %v, %v; want %v, %v", c.err, wait, ok, c.wait, c.ok)
		}
	}
}
