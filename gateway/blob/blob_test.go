package blob_test

import (
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/blob/blobtest"
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

// TestContract runs the blob contract on MinIO, each case in a fresh bucket
// that must hold no incomplete multipart upload afterwards (a PUT is one
// request, never a multipart upload a crash could leave behind).
func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Store {
		s, mc, bucket := newStore(t)
		t.Cleanup(func() {
			for u := range mc.ListIncompleteUploads(context.Background(), bucket, "", true) {
				t.Errorf("incomplete upload left: %+v", u)
			}
		})
		return s
	})
}

// Ready fails on a bucket that does not exist.
func TestReadyWithoutBucket(t *testing.T) {
	m := testenv.MinIO(t)
	s, err := blob.New(blob.Config{Endpoint: m.Endpoint, Bucket: testenv.RandomName("none-"), AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(context.Background()); err == nil {
		t.Fatal("Ready succeeded without a bucket")
	}
}
