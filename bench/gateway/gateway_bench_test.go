// Package gatewaybench measures the gateway: small-commit throughput with
// audit on (SQLite and PostgreSQL), the audit append cost, and 64 MiB chunk
// streaming through the gateway against minio-go straight to MinIO in the
// same run. Figures are reported, never asserted:
//
//	go test -run '^$' -bench . -benchtime 200x ./bench/gateway/
package gatewaybench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type setup struct {
	client *client.Client
	store  store.Store
	minio  *minio.Client
	bucket string
}

func start(b *testing.B, driver string) setup {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	m := testenv.MinIO(b)
	bucket := m.Bucket(b)
	var st store.Store
	var err error
	if driver == "postgres" {
		st, err = postgres.Open(ctx, testenv.Postgres(b), postgres.Options{MaxConns: 16})
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(b.TempDir(), "gateway.db"))
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	bs, err := blob.New(blob.Config{Endpoint: m.Endpoint, Bucket: bucket, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	is := authtest.New(b)
	v, err := auth.NewVerifier(ctx, auth.Config{JWKSURL: is.URL, Issuer: is.Issuer, Audience: authtest.Audience})
	if err != nil {
		b.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	cfg := gateway.DefaultConfig()
	cfg.InsecureDev = true
	cfg.Limits.MaxChunkBytes = 80 << 20
	cfg.Limits.RequestsPerSecond, cfg.Limits.Burst = 1e9, 1<<30
	srv, err := gateway.New(ctx, cfg, gateway.Deps{Store: st, Blobs: bs, Verifier: v, SigningKey: key})
	if err != nil {
		b.Fatal(err)
	}
	go srv.Run(ctx)
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	tok := is.Token(b, authtest.Claims{Subject: "ent-bench", Username: "bench", Groups: []string{"matter-bench-rw"}, Expiry: time.Now().Add(time.Hour)})
	c, err := client.New(hs.URL, client.StaticToken(tok), client.Options{Device: "BENCH"})
	if err != nil {
		b.Fatal(err)
	}
	// The same client options as the gateway's blob store, so the direct
	// upload may state its checksum too.
	mc, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), TrailingHeaders: true})
	if err != nil {
		b.Fatal(err)
	}
	return setup{client: c, store: st, minio: mc, bucket: bucket}
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
	for _, driver := range []string{"sqlite", "postgres"} {
		b.Run(driver, func(b *testing.B) {
			s := start(b, driver)
			ctx := context.Background()
			chunk := make([]byte, 4<<10)
			manifest := make([]byte, 600)
			rand.Read(manifest)
			b.SetBytes(int64(len(chunk) + len(manifest)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rand.Read(chunk[:32])
				id := randomID()
				if err := s.client.PutChunk(ctx, "bench", id, chunk); err != nil {
					b.Fatal(err)
				}
				if _, err := s.client.Commit(ctx, "bench", randomID(), 0, api.CommitRequest{Manifest: manifest, Chunks: []string{id}}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

// BenchmarkAuditAppend is the store cost of one stand-alone audit record
// (what a read or a refusal adds), and BenchmarkAuditedRead a whole audited
// request that does nothing else (GET /v1/matters).
func BenchmarkAuditAppend(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres"} {
		b.Run(driver, func(b *testing.B) {
			s := start(b, driver)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := &audit.Record{Time: time.Now(), Entity: "ent-bench", User: "bench", Device: "BENCH", Source: "127.0.0.1",
					Matter: "bench", Action: "chunk.get", Object: randomID(), Result: audit.ResultOK, Status: 200, Bytes: 4096, RequestID: "r"}
				if err := s.store.AppendAudit(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAuditedRead(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres"} {
		b.Run(driver, func(b *testing.B) {
			s := start(b, driver)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.client.Matters(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChunkStream64MiB uploads 64 MiB chunks through the gateway and,
// in the same run against the same MinIO, straight with minio-go: once the
// way the gateway stores (single PUT, S3-verified SHA-256) and once with
// minio-go's defaults (multipart, 4 parallel parts). The
// gateway/direct-single ratio is the figure to compare with the 0.8 target.
func BenchmarkChunkStream64MiB(b *testing.B) {
	const size = 64 << 20
	s := start(b, "sqlite")
	ctx := context.Background()
	data := make([]byte, size)
	rand.Read(data)
	sum := sha256.Sum256(data)
	var gw, single, multi time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := s.client.PutChunkStream(ctx, "bench", randomID(), bytes.NewReader(data), size, sum); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		_, err := s.minio.PutObject(ctx, s.bucket, "direct/single/"+randomID(), bytes.NewReader(data), size, minio.PutObjectOptions{
			DisableMultipart: true, DisableContentSha256: true,
			UserMetadata: map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(sum[:])},
		})
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := s.minio.PutObject(ctx, s.bucket, "direct/multi/"+randomID(), bytes.NewReader(data), size, minio.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
		gw, single, multi = gw+t1.Sub(t0), single+t2.Sub(t1), multi+time.Since(t2)
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(b.N) * size / d.Seconds() / (1 << 20) }
	b.ReportMetric(mbps(gw), "gateway-MiB/s")
	b.ReportMetric(mbps(single), "direct-single-MiB/s")
	b.ReportMetric(mbps(multi), "direct-multipart-MiB/s")
	b.ReportMetric(single.Seconds()/gw.Seconds(), "gateway/direct-single")
	b.ReportMetric(multi.Seconds()/gw.Seconds(), "gateway/direct-multipart")
}
