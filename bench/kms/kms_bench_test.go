// Package kmsbench measures the Vault-facing costs the agent pays: epoch key
// fetches cold (a Vault round trip) and warm (the in-memory cache), identity
// token fetches, and the number of Vault calls a sync of 10,000 files makes.
// Figures are reported, never asserted (the counting is asserted in kms's
// tests).
//
//	go test -run '^$' -bench . -benchmem -count=1 ./bench/kms/
package kmsbench

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// counter counts HTTP requests to Vault.
type counter struct{ n atomic.Int64 }

func (c *counter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		c.n.Add(1)
		return rt.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// setup returns a Keyring of a member of a matter with epochs 1 and 2,
// and the counter of its Vault calls.
func setup(b *testing.B) (*kms.Keyring, string, *counter) {
	b.Helper()
	env := kmstest.Setup(b)
	m := env.Matter(b)
	u := env.User(b, false)
	env.Grant(b, m, u, kms.RoleRW)
	if _, err := env.Admin.Rotate(context.Background(), m, nil); err != nil {
		b.Fatal(err)
	}
	var c counter
	cfg := env.Config
	cfg.WrapTransport = c.wrap
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	k, err := kms.Login(ctx, cfg, env.Userpass(u))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k.Close() })
	return k, m, &c
}

// BenchmarkEpochKeyCold: fetch and unwrap a matter's epoch keys from Vault
// (KV read + batch transit decrypt).
func BenchmarkEpochKeyCold(b *testing.B) {
	k, m, c := setup(b)
	ctx := context.Background()
	start := c.n.Load()
	for b.Loop() {
		k.Invalidate(m)
		if _, _, err := k.CurrentKey(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.n.Load()-start)/float64(b.N), "vault-calls/op")
}

// BenchmarkEpochKeyWarm: the same from the in-memory cache.
func BenchmarkEpochKeyWarm(b *testing.B) {
	k, m, c := setup(b)
	ctx := context.Background()
	if _, _, err := k.CurrentKey(ctx, m); err != nil {
		b.Fatal(err)
	}
	start := c.n.Load()
	for b.Loop() {
		if _, _, err := k.CurrentKey(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.n.Load()-start)/float64(b.N), "vault-calls/op")
}

// BenchmarkIdentityTokenFetch: a new identity token from Vault (signing
// included).
func BenchmarkIdentityTokenFetch(b *testing.B) {
	k, _, c := setup(b)
	ctx := context.Background()
	start := c.n.Load()
	for b.Loop() {
		if _, err := k.RefreshIdentityToken(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.n.Load()-start)/float64(b.N), "vault-calls/op")
}

// BenchmarkIdentityTokenCached: the token the agent attaches to each
// gateway request.
func BenchmarkIdentityTokenCached(b *testing.B) {
	k, _, _ := setup(b)
	ctx := context.Background()
	if _, err := k.IdentityToken(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.IdentityToken(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSync10000Files: the key requests of syncing 10,000 files of one
// matter from a cold cache: per file, the epoch-1 key (file IDs) and the
// current key (sealing). Reports Vault calls per 10,000 files.
func BenchmarkSync10000Files(b *testing.B) {
	k, m, c := setup(b)
	ctx := context.Background()
	start := c.n.Load()
	for b.Loop() {
		k.Invalidate(m)
		for range 10000 {
			if _, err := k.EpochKey(ctx, m, 1); err != nil {
				b.Fatal(err)
			}
			if _, _, err := k.CurrentKey(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(c.n.Load()-start)/float64(b.N), "vault-calls/10k-files")
}
