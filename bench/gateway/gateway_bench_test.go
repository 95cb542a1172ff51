// Package gatewaybench measures the gateway: small-commit throughput with
// audit on (SQLite and PostgreSQL), the audit append cost, and 64 MiB of
// chunk streaming through the gateway against minio-go straight to MinIO in
// the same run. Figures are reported, never asserted:
//
//	go test -run '^$' -bench . -benchtime 200x ./bench/gateway/
package gatewaybench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type setup struct {
	sealer *gatewaytest.Sealer
	client *client.Client
	store  gateway.AuditStore
	minio  *minio.Client
	bucket string
}

func start(b *testing.B, driver string) setup {
	b.Helper()
	g := gatewaytest.Start(b, gatewaytest.Options{Postgres: driver == "postgres", MinIO: true, Config: func(cfg *gateway.Config) {
		cfg.Limits.MaxChunkBytes = 80 << 20
		cfg.Limits.RequestsPerSecond, cfg.Limits.Burst = 1e9, 1<<30
		// The production poll, not the test gateways' fast one.
		cfg.Limits.PollInterval = gateway.DefaultConfig().Limits.PollInterval
	}})
	tok := g.Issuer.Token(b, authtest.Claims{Subject: "ent-bench", Username: "bench", Groups: []string{"matter-bench-rw"}, Expiry: time.Now().Add(10 * time.Minute)}) // within vault.max_token_lifetime
	// The same client options as the gateway's blob store, so the direct
	// upload may state its checksum too.
	mc, err := minio.New(g.MinIO.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(g.MinIO.AccessKey, g.MinIO.SecretKey, ""), TrailingHeaders: true})
	if err != nil {
		b.Fatal(err)
	}
	return setup{sealer: gatewaytest.NewSealer(b), client: g.Client(b, tok, "BENCH"), store: g.Stores.Audit, minio: mc, bucket: g.Bucket}
}

// eachStore runs f as a sub-benchmark per store driver, against a fresh
// gateway, with the timer reset after the set-up.
func eachStore(b *testing.B, f func(b *testing.B, s setup, ctx context.Context)) {
	for _, driver := range []string{"sqlite", "postgres"} {
		b.Run(driver, func(b *testing.B) {
			s := start(b, driver)
			ctx := context.Background()
			b.ResetTimer()
			f(b, s, ctx)
		})
	}
}

func randomID() string {
	var id format.ID
	rand.Read(id[:])
	return id.String()
}

// BenchmarkSmallCommit: one 4 KiB chunk upload plus one manifest commit per
// op (two audited requests, each audit record in the same transaction as
// its change), as the agent does for a small file.
func BenchmarkSmallCommit(b *testing.B) {
	eachStore(b, func(b *testing.B, s setup, ctx context.Context) {
		for i := 0; i < b.N; i++ {
			// Sealing is the agent's work, not the gateway's.
			b.StopTimer()
			id, chunk := s.sealer.Chunk(b, "bench", 4<<10)
			file := s.sealer.NewFile(b, "bench")
			manifest := s.sealer.ManifestOf(b, "bench", file, 1, id)
			b.StartTimer()
			if err := s.client.PutChunk(ctx, "bench", id.String(), chunk); err != nil {
				b.Fatal(err)
			}
			if _, err := s.client.Commit(ctx, "bench", file.String(), 0, api.CommitRequest{Manifest: manifest, Chunks: []string{id.String()}}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
}

// BenchmarkAuditAppend is the store cost of one stand-alone audit record
// (what a read or a refusal adds), and BenchmarkAuditedRead a whole audited
// request that does nothing else (GET /v1/matters).
func BenchmarkAuditAppend(b *testing.B) {
	eachStore(b, func(b *testing.B, s setup, ctx context.Context) {
		for i := 0; i < b.N; i++ {
			r := &audit.Record{Time: time.Now(), Entity: "ent-bench", User: "bench", Device: "BENCH", Source: "127.0.0.1",
				Matter: "bench", Action: "chunk.get", Object: randomID(), Result: audit.ResultOK, Status: 200, Bytes: 4096, RequestID: "r"}
			if err := s.store.AppendAudit(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAuditedRead(b *testing.B) {
	eachStore(b, func(b *testing.B, s setup, ctx context.Context) {
		for i := 0; i < b.N; i++ {
			if _, err := s.client.Matters(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChunkStream64MiB uploads 64 MiB as eight sealed 8 MiB chunks
// (the format's largest chunk; a single 64 MiB chunk does not exist) through
// the gateway and, in the same run against the same MinIO, the same eight
// objects straight with minio-go: once the way the gateway stores (single
// PUT, S3-verified SHA-256) and once with minio-go's defaults. The
// gateway/direct-single ratio is the figure to compare with the 0.8 target.
func BenchmarkChunkStream64MiB(b *testing.B) {
	const n, total = 8, 64 << 20
	s := start(b, "sqlite")
	ctx := context.Background()
	var gw, single, multi time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ids := make([]string, n)
		data := make([][]byte, n)
		sums := make([][32]byte, n)
		for j := range n {
			id, sealed := s.sealer.Chunk(b, "bench", format.MaxChunkSize)
			ids[j], data[j], sums[j] = id.String(), sealed, sha256.Sum256(sealed)
		}
		b.StartTimer()
		t0 := time.Now()
		for j := range n {
			if _, err := s.client.PutChunkStream(ctx, "bench", ids[j], bytes.NewReader(data[j]), int64(len(data[j])), sums[j]); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for j := range n {
			_, err := s.minio.PutObject(ctx, s.bucket, "direct/single/"+ids[j], bytes.NewReader(data[j]), int64(len(data[j])), minio.PutObjectOptions{
				DisableMultipart: true, DisableContentSha256: true,
				UserMetadata: map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(sums[j][:])},
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		for j := range n {
			if _, err := s.minio.PutObject(ctx, s.bucket, "direct/default/"+ids[j], bytes.NewReader(data[j]), int64(len(data[j])), minio.PutObjectOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		gw, single, multi = gw+t1.Sub(t0), single+t2.Sub(t1), multi+time.Since(t2)
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(b.N) * total / d.Seconds() / (1 << 20) }
	b.ReportMetric(mbps(gw), "gateway-MiB/s")
	b.ReportMetric(mbps(single), "direct-single-MiB/s")
	b.ReportMetric(mbps(multi), "direct-default-MiB/s")
	b.ReportMetric(single.Seconds()/gw.Seconds(), "gateway/direct-single")
	b.ReportMetric(multi.Seconds()/gw.Seconds(), "gateway/direct-default")
}
