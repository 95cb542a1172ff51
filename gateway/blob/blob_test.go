package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newStore(t *testing.T) (*blob.Store, *minio.Client, string) {
	m := testenv.MinIO(t)
	bucket := m.Bucket(t)
	s, err := blob.New(blob.Config{Endpoint: m.Endpoint, Bucket: bucket, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return s, m.Client(t), bucket
}

func TestKeys(t *testing.T) {
	id, _ := format.ParseID(strings.Repeat("ab", 32))
	k, err := blob.ChunkKey("2026-0001", id)
	if err != nil || k != "m/2026-0001/c/"+strings.Repeat("ab", 32) {
		t.Fatalf("ChunkKey = %q, %v", k, err)
	}
	k, err = blob.ManifestKey("2026-0001", id, 12)
	if err != nil || k != "m/2026-0001/v/"+strings.Repeat("ab", 32)+"/12" {
		t.Fatalf("ManifestKey = %q, %v", k, err)
	}
	for _, m := range []string{"", "../x", "A", "a/b", "-a"} {
		if _, err := blob.ChunkKey(m, id); err == nil {
			t.Errorf("ChunkKey(%q) accepted", m)
		}
	}
	if _, err := blob.ManifestKey("m", id, 0); err == nil {
		t.Error("ManifestKey(version 0) accepted")
	}
	k, err = blob.ManifestAttemptKey("2026-0001", id, 12, "0af3")
	if err != nil || k != "m/2026-0001/v/"+strings.Repeat("ab", 32)+"/12.0af3" {
		t.Fatalf("ManifestAttemptKey = %q, %v", k, err)
	}
	for _, a := range []string{"", "../x", "A1", "a/b", "a.b", strings.Repeat("a", 65)} {
		if _, err := blob.ManifestAttemptKey("m", id, 1, a); err == nil {
			t.Errorf("ManifestAttemptKey(attempt %q) accepted", a)
		}
	}
}

// cutReader yields n bytes of b and then fails, like a client whose
// connection drops mid-body.
type cutReader struct {
	b []byte
	n int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := copy(p, c.b[:min(len(c.b), c.n)])
	c.b, c.n = c.b[k:], c.n-k
	return k, nil
}

func TestPutIsAtomicAndVerified(t *testing.T) {
	s, mc, bucket := newStore(t)
	ctx := context.Background()
	body := make([]byte, 3<<20)
	rand.Read(body)
	sum := sha256.Sum256(body)
	visible := func(key string) bool {
		t.Helper()
		_, err := s.Size(ctx, key)
		if err != nil && !errors.Is(err, blob.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	if err := s.Put(ctx, "k/cut", &cutReader{b: body, n: len(body) / 2}, int64(len(body)), sum); err == nil {
		t.Fatal("Put of a body cut mid-way succeeded")
	}
	if visible("k/cut") {
		t.Fatal("a cut upload is visible")
	}

	bad := sha256.Sum256([]byte("something else"))
	if err := s.Put(ctx, "k/bad", bytes.NewReader(body), int64(len(body)), bad); !errors.Is(err, blob.ErrChecksum) {
		t.Fatalf("Put with wrong checksum = %v, want ErrChecksum", err)
	}
	if visible("k/bad") {
		t.Fatal("an upload with a wrong checksum is visible")
	}

	// A wrong checksum never replaces an existing object either.
	if err := s.Put(ctx, "k/ok", bytes.NewReader(body), int64(len(body)), sum); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := s.Put(ctx, "k/ok", bytes.NewReader([]byte("evil")), 4, sum); !errors.Is(err, blob.ErrChecksum) {
		t.Fatalf("overwrite with wrong checksum = %v", err)
	}
	rc, size, err := s.Get(ctx, "k/ok")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || size != int64(len(body)) || !bytes.Equal(got, body) {
		t.Fatalf("Get = %d bytes (size %d), %v", len(got), size, err)
	}
	// Create never replaces.
	if err := s.Create(ctx, "k/ok", bytes.NewReader([]byte("new")), 3, sha256.Sum256([]byte("new"))); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("Create over an object = %v, want ErrExists", err)
	}
	if n, err := s.Size(ctx, "k/ok"); err != nil || n != int64(len(body)) {
		t.Fatalf("Size after refused Create = %d, %v", n, err)
	}
	if err := s.Create(ctx, "k/new", bytes.NewReader([]byte("new")), 3, sha256.Sum256([]byte("new"))); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, _, err := s.Get(ctx, "k/none"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get of missing = %v, want ErrNotFound", err)
	}
	// No incomplete multipart uploads are left behind.
	for u := range mc.ListIncompleteUploads(ctx, bucket, "", true) {
		t.Fatalf("incomplete upload left: %+v", u)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}
