package e2e

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mattersync/mattersync/internal/devstack"
)

// The tests reach into MinIO directly to play a compromised storage.
func minioClient(t *testing.T, s *devstack.Stack) *minio.Client {
	t.Helper()
	ak, sk := s.S3Keys()
	c, err := minio.New(s.MinIOEndpoint(), &minio.Options{Creds: credentials.NewStaticV4(ak, sk, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// listChunks returns the chunk object keys in the bucket.
func listChunks(t *testing.T, s *devstack.Stack) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for o := range minioClient(t, s).ListObjects(context.Background(), s.Bucket(), minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if strings.Contains(o.Key, "/c/") {
			out[o.Key] = true
		}
	}
	return out
}

// flipByte rewrites an object with one bit of its last byte flipped.
func flipByte(t *testing.T, s *devstack.Stack, key string) {
	t.Helper()
	c := minioClient(t, s)
	ctx := context.Background()
	obj, err := c.GetObject(ctx, s.Bucket(), key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || len(b) == 0 {
		t.Fatalf("read %s: %v", key, err)
	}
	b[len(b)-1] ^= 1
	if _, err := c.PutObject(ctx, s.Bucket(), key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}
