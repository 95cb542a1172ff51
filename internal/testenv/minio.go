package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinIOServer is a running MinIO server on a temp data directory.
type MinIOServer struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string // generated for this run
	SecretKey string
	DataDir   string // where MinIO keeps objects: tests grep it for plaintext
	proc      *process
}

// MinIO returns the MinIO server shared by the tests of this package,
// starting it on first use. Tests sharing it use their own Bucket.
func MinIO(t testing.TB) *MinIOServer {
	t.Helper()
	skipShort(t, "MinIO")
	shared.minioOnce.Do(func() {
		shared.minio, shared.minioErr = startMinIO()
		if shared.minioErr == nil {
			registerStop(shared.minio.proc.stop)
		}
	})
	if shared.minioErr != nil {
		unavailable(t, "%v", shared.minioErr)
	}
	return shared.minio
}

// NewMinIO starts a MinIO server for t alone, stopped when t ends.
func NewMinIO(t testing.TB) *MinIOServer {
	t.Helper()
	skipShort(t, "MinIO")
	m, err := startMinIO()
	if err != nil {
		unavailable(t, "%v", err)
	}
	t.Cleanup(m.proc.stop)
	return m
}

func startMinIO() (*MinIOServer, error) {
	bin, err := FindBinary("minio")
	if err != nil {
		return nil, err
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	console, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	m := &MinIOServer{Endpoint: addr, AccessKey: "test" + RandomHex(8), SecretKey: RandomHex(20)}
	m.proc, err = startProcess("minio", bin,
		[]string{"server", "--quiet", "--address", addr, "--console-address", console, "data"},
		[]string{"MINIO_ROOT_USER=" + m.AccessKey, "MINIO_ROOT_PASSWORD=" + m.SecretKey, "MINIO_BROWSER=off", "MINIO_UPDATE=off"},
		func(string) string { return "http://" + addr + "/minio/health/ready" })
	if err != nil {
		return nil, err
	}
	m.DataDir = m.proc.dir + "/data"
	return m, nil
}

// Client returns a minio-go client with the server's root credentials.
func (m *MinIOServer) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		t.Fatalf("testenv: minio client: %v", err)
	}
	return c
}

// Bucket creates a bucket with a random name for t, with S3 Object Lock
// (and so versioning) as the gateway's bucket has it (docs/LIFECYCLE.md),
// and removes it, with everything in it, when t ends.
func (m *MinIOServer) Bucket(t testing.TB) string {
	t.Helper()
	c := m.Client(t)
	name := RandomName("t-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
		t.Fatalf("testenv: make bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.RemoveBucketWithOptions(ctx, name, minio.RemoveBucketOptions{ForceDelete: true})
	})
	return name
}

// PlainBucket is Bucket without Object Lock or versioning: a bucket made
// before the gateway needed them.
func (m *MinIOServer) PlainBucket(t testing.TB) string {
	t.Helper()
	c := m.Client(t)
	name := RandomName("t-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("testenv: make bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.RemoveBucketWithOptions(ctx, name, minio.RemoveBucketOptions{ForceDelete: true})
	})
	return name
}

// String renders the server for logs without its secrets.
func (m *MinIOServer) String() string { return "minio at " + m.Endpoint }
