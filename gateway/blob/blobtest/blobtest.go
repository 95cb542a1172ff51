// Package blobtest is the contract of mattersync's blob stores: what the
// gateway relies on from S3 (blob.Store) and what the in-memory fake
// (memblob) must therefore do too. Both run the same suite, so a test that
// passes on the fake means the same on MinIO.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/mattersync/mattersync/gateway/blob"
)

// Store is a blob store as its callers use it (blob.Store's methods).
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error
	Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Size(ctx context.Context, key string) (int64, error)
	Ready(ctx context.Context) error
}

// Run checks the contract on stores made by newStore, one fresh and empty
// store per subtest.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s Store)
	}{
		{"PutGet", testPutGet},
		{"CutBodyIsNotStored", testCutBody},
		{"ShortBodyIsNotStored", testShortBody},
		{"WrongChecksumIsNotStored", testWrongChecksum},
		{"PutReplaces", testPutReplaces},
		{"CreateNeverReplaces", testCreateNeverReplaces},
		{"FailedCreateLeavesKeyFree", testFailedCreate},
		{"RacingCreatesOneWins", testRacingCreates},
		{"Missing", testMissing},
		{"Ready", testReady},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, newStore(t)) })
	}
}

// random returns n random (incompressible) bytes.
func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
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

// visible reports whether key holds an object.
func visible(t *testing.T, s Store, key string) bool {
	t.Helper()
	_, err := s.Size(context.Background(), key)
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Size(%s): %v", key, err)
	}
	return err == nil
}

// wantBody checks that key holds exactly body, through Get and Size.
func wantBody(t *testing.T, s Store, key string, body []byte) {
	t.Helper()
	ctx := context.Background()
	rc, size, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || size != int64(len(body)) || !bytes.Equal(got, body) {
		t.Fatalf("Get(%s) = %d bytes (size %d), %v; want the %d bytes stored", key, len(got), size, err, len(body))
	}
	if n, err := s.Size(ctx, key); err != nil || n != int64(len(body)) {
		t.Fatalf("Size(%s) = %d, %v; want %d", key, n, err, len(body))
	}
}

func testPutGet(t *testing.T, s Store) {
	ctx := context.Background()
	body := random(3 << 20)
	if err := s.Put(ctx, "k/ok", bytes.NewReader(body), int64(len(body)), sha256.Sum256(body)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	wantBody(t, s, "k/ok", body)
	if err := s.Create(ctx, "k/new", bytes.NewReader([]byte("new")), 3, sha256.Sum256([]byte("new"))); err != nil {
		t.Fatalf("Create: %v", err)
	}
	wantBody(t, s, "k/new", []byte("new"))
	if err := s.Put(ctx, "k/empty", bytes.NewReader(nil), 0, sha256.Sum256(nil)); err != nil {
		t.Fatalf("Put of an empty object: %v", err)
	}
	wantBody(t, s, "k/empty", nil)
}

// A body cut mid-way is refused as a whole; nothing half-written is ever
// readable.
func testCutBody(t *testing.T, s Store) {
	ctx := context.Background()
	body := random(3 << 20)
	sum := sha256.Sum256(body)
	if err := s.Put(ctx, "k/cut", &cutReader{b: body, n: len(body) / 2}, int64(len(body)), sum); err == nil {
		t.Fatal("Put of a body cut mid-way succeeded")
	}
	if visible(t, s, "k/cut") {
		t.Fatal("a cut upload is visible")
	}
	if err := s.Create(ctx, "k/cut", &cutReader{b: body, n: len(body) / 2}, int64(len(body)), sum); err == nil {
		t.Fatal("Create of a body cut mid-way succeeded")
	}
	if visible(t, s, "k/cut") {
		t.Fatal("a cut Create is visible")
	}
}

// A body that ends (cleanly) before the stated size is refused.
func testShortBody(t *testing.T, s Store) {
	body := random(1 << 10)
	if err := s.Put(context.Background(), "k/short", bytes.NewReader(body[:100]), int64(len(body)), sha256.Sum256(body)); err == nil {
		t.Fatal("Put of a body shorter than its size succeeded")
	}
	if visible(t, s, "k/short") {
		t.Fatal("a short upload is visible")
	}
}

func testWrongChecksum(t *testing.T, s Store) {
	ctx := context.Background()
	body := random(1 << 20)
	bad := sha256.Sum256([]byte("something else"))
	if err := s.Put(ctx, "k/bad", bytes.NewReader(body), int64(len(body)), bad); !errors.Is(err, blob.ErrChecksum) {
		t.Fatalf("Put with wrong checksum = %v, want ErrChecksum", err)
	}
	if visible(t, s, "k/bad") {
		t.Fatal("an upload with a wrong checksum is visible")
	}
	if err := s.Create(ctx, "k/bad", bytes.NewReader(body), int64(len(body)), bad); !errors.Is(err, blob.ErrChecksum) {
		t.Fatalf("Create with wrong checksum = %v, want ErrChecksum", err)
	}
	if visible(t, s, "k/bad") {
		t.Fatal("a Create with a wrong checksum is visible")
	}
	// A wrong checksum never replaces an existing object either.
	sum := sha256.Sum256(body)
	if err := s.Put(ctx, "k/ok", bytes.NewReader(body), int64(len(body)), sum); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := s.Put(ctx, "k/ok", bytes.NewReader([]byte("evil")), 4, sum); !errors.Is(err, blob.ErrChecksum) {
		t.Fatalf("overwrite with wrong checksum = %v, want ErrChecksum", err)
	}
	wantBody(t, s, "k/ok", body)
}

func testPutReplaces(t *testing.T, s Store) {
	ctx := context.Background()
	for _, body := range [][]byte{[]byte("first"), []byte("second, longer")} {
		if err := s.Put(ctx, "k/p", bytes.NewReader(body), int64(len(body)), sha256.Sum256(body)); err != nil {
			t.Fatalf("Put: %v", err)
		}
		wantBody(t, s, "k/p", body)
	}
}

// Create never replaces: immutable objects stay as first written.
func testCreateNeverReplaces(t *testing.T, s Store) {
	ctx := context.Background()
	body := random(1 << 20)
	if err := s.Create(ctx, "k/c", bytes.NewReader(body), int64(len(body)), sha256.Sum256(body)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s.Create(ctx, "k/c", bytes.NewReader([]byte("new")), 3, sha256.Sum256([]byte("new"))); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("Create over an object = %v, want ErrExists", err)
	}
	wantBody(t, s, "k/c", body)
	// Nor over an object written by Put.
	if err := s.Put(ctx, "k/p", bytes.NewReader([]byte("put")), 3, sha256.Sum256([]byte("put"))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := s.Create(ctx, "k/p", bytes.NewReader([]byte("new")), 3, sha256.Sum256([]byte("new"))); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("Create over a Put object = %v, want ErrExists", err)
	}
	wantBody(t, s, "k/p", []byte("put"))
}

// A Create that failed (cut body, wrong checksum) leaves the key free for
// the retry.
func testFailedCreate(t *testing.T, s Store) {
	ctx := context.Background()
	body := random(1 << 20)
	sum := sha256.Sum256(body)
	if err := s.Create(ctx, "k/r", &cutReader{b: body, n: 1000}, int64(len(body)), sum); err == nil {
		t.Fatal("Create of a cut body succeeded")
	}
	if err := s.Create(ctx, "k/r", bytes.NewReader(body), int64(len(body)), sha256.Sum256(nil)); !errors.Is(err, blob.ErrChecksum) {
		t.Fatalf("Create with wrong checksum = %v, want ErrChecksum", err)
	}
	if err := s.Create(ctx, "k/r", bytes.NewReader(body), int64(len(body)), sum); err != nil {
		t.Fatalf("Create after failed attempts: %v", err)
	}
	wantBody(t, s, "k/r", body)
}

// Of Creates racing on one key exactly one wins; the others get ErrExists
// and the object is the winner's.
func testRacingCreates(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 8
	bodies := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		bodies[i] = fmt.Appendf(random(64<<10), "upload %d", i)
		wg.Go(func() {
			errs[i] = s.Create(ctx, "k/race", bytes.NewReader(bodies[i]), int64(len(bodies[i])), sha256.Sum256(bodies[i]))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("uploads %d and %d both created the object", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, blob.ErrExists):
			t.Fatalf("upload %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racing Create won")
	}
	wantBody(t, s, "k/race", bodies[winner])
}

func testMissing(t *testing.T, s Store) {
	ctx := context.Background()
	if _, _, err := s.Get(ctx, "k/none"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get of missing = %v, want ErrNotFound", err)
	}
	if _, err := s.Size(ctx, "k/none"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Size of missing = %v, want ErrNotFound", err)
	}
}

func testReady(t *testing.T, s Store) {
	if err := s.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}
