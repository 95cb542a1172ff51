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
// TestLifecycleContract runs the lifecycle's part of the contract on
// MinIO, in buckets with Object Lock (testenv).
func TestLifecycleContract(t *testing.T) {
	blobtest.RunLifecycle(t, func(t *testing.T) blobtest.LifecycleStore {
		s, _, _ := newStore(t)
		return blobtest.LifecycleStore{Versioned: s, Held: s}
	})
}

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

func TestParseKey(t *testing.T) {
	id, _ := format.ParseID(strings.Repeat("ab", 32))
	ck, _ := blob.ChunkKey("2026-0001", id)
	mk, _ := blob.ManifestKey("2026-0001", id, 12)
	ak, _ := blob.ManifestAttemptKey("2026-0001", id, 12, "0af3")
	sk, _ := blob.ShareKey("2026-0001", strings.Repeat("5e", 16))
	dk, _ := blob.DropKey("2026-0001", strings.Repeat("d0", 16))
	for key, want := range map[string]blob.Key{
		dk:       {Matter: "2026-0001", Kind: blob.KeyDrop, Drop: strings.Repeat("d0", 16)},
		dk + "0": {Matter: "2026-0001"},
		"m/2026-0001/d/" + strings.Repeat("D0", 16): {Matter: "2026-0001"},
		sk:       {Matter: "2026-0001", Kind: blob.KeyShare, Share: strings.Repeat("5e", 16)},
		sk + "0": {Matter: "2026-0001"},
		"m/2026-0001/s/" + strings.Repeat("5E", 16): {Matter: "2026-0001"},
		ck:                     {Matter: "2026-0001", Kind: blob.KeyChunk, ID: id},
		ck + ".r1":             {Matter: "2026-0001", Kind: blob.KeyChunk, ID: id, Attempt: "r1"},
		mk:                     {Matter: "2026-0001", Kind: blob.KeyManifest, ID: id, Version: 12},
		ak:                     {Matter: "2026-0001", Kind: blob.KeyManifest, ID: id, Version: 12, Attempt: "0af3"},
		"m/2026-0001/notes":    {Matter: "2026-0001"},
		"m/2026-0001/c/zz":     {Matter: "2026-0001"},
		mk[:len(mk)-2] + "012": {Matter: "2026-0001"}, // not as ManifestKey spells 12
		ck + ".":               {Matter: "2026-0001"},
		ck + ".A":              {Matter: "2026-0001"},
		"m/Bad/c/x":            {},
		"other/key":            {},
	} {
		if got := blob.ParseKey(key); got != want {
			t.Errorf("ParseKey(%q) = %+v, want %+v", key, got, want)
		}
	}
}
