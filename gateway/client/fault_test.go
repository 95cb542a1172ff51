package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/fault"
)

// TestFaultKinds: every way a call fails names its kind in the vocabulary
// kms shares, so the admin CLI maps gateway and Vault failures alike.
func TestFaultKinds(t *testing.T) {
	ctx := context.Background()
	refuse := func(code api.Code, status int) string {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(`{"code":"` + string(code) + `","message":"no"}`))
		}))
		t.Cleanup(hs.Close)
		return hs.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	open := func(url string) *client.Client {
		c, err := client.New(url, client.StaticToken("t"), client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		call func() error
		want fault.Kind
	}{
		{"bad matter ID", func() error { _, err := open(closed).Hold(ctx, "Not-A-Matter"); return err }, fault.Invalid},
		{"epoch 0", func() error { _, err := open(closed).SetEpoch(ctx, "m-1", 0); return err }, fault.Invalid},
		{"nobody listening", func() error { _, err := open(closed).Hold(ctx, "m-1"); return err }, fault.Unavailable},
		{"canceled", func() error { _, err := open(closed).Hold(canceled, "m-1"); return err }, fault.Other},
		{"not found", func() error { return open(refuse(api.CodeNotFound, 404)).Undeny(ctx, "e-1") }, fault.NotFound},
		{"legal hold", func() error { _, err := open(refuse(api.CodeLegalHold, 409)).Hold(ctx, "m-1"); return err }, fault.Refused},
		{"revoked", func() error { _, err := open(refuse(api.CodeRevoked, 403)).Hold(ctx, "m-1"); return err }, fault.Denied},
		{"unauthenticated", func() error { _, err := open(refuse(api.CodeUnauthenticated, 401)).Hold(ctx, "m-1"); return err }, fault.Unauthenticated},
		{"bad URL", func() error { _, err := client.New("ftp://x", client.StaticToken("t"), client.Options{}); return err }, fault.Invalid},
		{"bad CA file", func() error { _, err := client.HTTPClient("/nonexistent/ca.pem"); return err }, fault.Invalid},
		{"truncated export", func() error { return client.ErrTruncated }, fault.Unavailable},
	} {
		err := tc.call()
		if got := fault.Of(err); got != tc.want {
			t.Errorf("%s: %v: kind %v, want %v", tc.name, err, got, tc.want)
		}
	}
	if _, err := open(closed).SetEpoch(ctx, "m-1", 0); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("epoch 0: %v is not ErrInvalid", err)
	}
}
