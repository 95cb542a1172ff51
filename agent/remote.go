package agent

import (
	"context"
	"errors"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
)

// Remote is the gateway API as the agent uses it; gateway/client implements
// it. Errors carry the gateway's api.Code (see remoteCode).
type Remote interface {
	ChunkRemote
	FileRemote
}

// ChunkRemote stores and fetches a matter's sealed chunks.
type ChunkRemote interface {
	MissingChunks(ctx context.Context, matter string, ids []string) ([]string, error)
	PutChunk(ctx context.Context, matter, id string, sealed []byte) error
	GetChunk(ctx context.Context, matter, id string) ([]byte, error)
	// ReplaceChunk replaces a stored chunk that does not open (bad is the
	// SHA-256 of the stored object) with a good sealing; audited by the
	// gateway as chunk.replace.
	ReplaceChunk(ctx context.Context, matter, id string, sealed []byte, bad [32]byte) (api.ChunkPut, error)
}

// chunkSender is optionally implemented by a ChunkRemote (gateway/client
// does) whose chunk upload tells whether the gateway stored this body
// (created) or already had the chunk. The agent then uploads the one
// chunk of a small file without first asking whether it is missing: one
// request (and one audit append) less per file, and a chunk that was
// there already is opened before it is committed on, as verifyPresent
// does.
type chunkSender interface {
	SendChunk(ctx context.Context, matter, id string, sealed []byte) (created bool, err error)
}

// FileRemote is the rest: who the caller is, versions and the change feed.
type FileRemote interface {
	// Matters asks who the caller is: a cheap request that tells whether
	// the gateway still lets this user in.
	Matters(ctx context.Context) (api.WhoAmI, error)
	// Commit stores a new version: base 0 means "a new file"
	// (If-None-Match: *), otherwise If-Match: base.
	Commit(ctx context.Context, matter, fileID string, base int64, req api.CommitRequest) (api.Commit, error)
	// File returns version (0: the head) of a file, with its manifest.
	File(ctx context.Context, matter, fileID string, version int64) (api.FileVersion, error)
	Versions(ctx context.Context, matter, fileID string) (api.Versions, error)
	// Delete writes a tombstone version sealed by the agent.
	Delete(ctx context.Context, matter, fileID string, base int64, tombstone []byte) (api.Commit, error)
	Changes(ctx context.Context, matter string, since int64, wait time.Duration) (api.Changes, error)
	// Feed asks which of the matters (matter -> since) have news, in one
	// long poll for all of them (POST /v1/feed).
	Feed(ctx context.Context, cursors map[string]int64, wait time.Duration) (api.Feed, error)
	// ConfirmRevocation asks, with a fresh nonce, for the gateway's signed
	// statement that the caller is revoked (nil: none sent);
	// client.ErrNotRevoked if the gateway lets the caller in. token, if
	// not "", is sent instead of the current one.
	ConfirmRevocation(ctx context.Context, token, nonce string) (*api.Revocation, error)
}

// Keys is what the agent needs from Vault (kms.Keyring implements it).
type Keys interface {
	Matters(ctx context.Context) ([]kms.Matter, error)
	CurrentKey(ctx context.Context, matter string) (uint32, []byte, error)
	EpochKey(ctx context.Context, matter string, n uint32) ([]byte, error)
	// Invalidate drops a matter's cached keys (after a rotation).
	Invalidate(matter string)
	Wipe()
}

// politeRemote retries requests the gateway refused for load (429 rate
// limited, 503 unavailable), waiting as long as its Retry-After says. It
// is the one place the agent handles back-pressure, so every call site
// stays simple. Other errors pass straight through.
type politeRemote struct {
	Remote
	maxWait time.Duration // give up (and let the pass back off) beyond this
}

// retryAfter returns how long to wait before retrying err, or false.
func retryAfter(err error) (time.Duration, bool) {
	switch remoteCode(err) {
	// incomplete_body: the gateway got less of the body than this agent
	// sent (a connection cut on the way, as when a replica behind the
	// balancer dies): sending it again is all there is to do.
	case api.CodeRateLimited, api.CodeUnavailable, api.CodeIncompleteBody:
		d := time.Second
		var ce *client.Error
		if errors.As(err, &ce) && ce.RetryAfter > 0 {
			d = ce.RetryAfter
		}
		return d, true
	}
	return 0, false
}

func retry[T any](ctx context.Context, max time.Duration, f func() (T, error)) (T, error) {
	var waited time.Duration
	for {
		v, err := f()
		d, ok := retryAfter(err)
		if !ok || waited+d > max {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(d):
		}
		waited += d
	}
}

func (p politeRemote) MissingChunks(ctx context.Context, matter string, ids []string) ([]string, error) {
	return retry(ctx, p.maxWait, func() ([]string, error) { return p.Remote.MissingChunks(ctx, matter, ids) })
}

func (p politeRemote) ReplaceChunk(ctx context.Context, matter, id string, sealed []byte, bad [32]byte) (api.ChunkPut, error) {
	return retry(ctx, p.maxWait, func() (api.ChunkPut, error) { return p.Remote.ReplaceChunk(ctx, matter, id, sealed, bad) })
}

func (p politeRemote) ConfirmRevocation(ctx context.Context, token, nonce string) (*api.Revocation, error) {
	return retry(ctx, p.maxWait, func() (*api.Revocation, error) { return p.Remote.ConfirmRevocation(ctx, token, nonce) })
}

func (p politeRemote) PutChunk(ctx context.Context, matter, id string, sealed []byte) error {
	_, err := retry(ctx, p.maxWait, func() (struct{}, error) { return struct{}{}, p.Remote.PutChunk(ctx, matter, id, sealed) })
	return err
}

// sender returns the chunkSender of the remote, or nil.
func (p politeRemote) sender() chunkSender {
	if _, ok := p.Remote.(chunkSender); ok {
		return p
	}
	return nil
}

func (p politeRemote) SendChunk(ctx context.Context, matter, id string, sealed []byte) (bool, error) {
	return retry(ctx, p.maxWait, func() (bool, error) { return p.Remote.(chunkSender).SendChunk(ctx, matter, id, sealed) })
}

func (p politeRemote) GetChunk(ctx context.Context, matter, id string) ([]byte, error) {
	return retry(ctx, p.maxWait, func() ([]byte, error) { return p.Remote.GetChunk(ctx, matter, id) })
}

func (p politeRemote) Commit(ctx context.Context, matter, fileID string, base int64, req api.CommitRequest) (api.Commit, error) {
	return retry(ctx, p.maxWait, func() (api.Commit, error) { return p.Remote.Commit(ctx, matter, fileID, base, req) })
}

func (p politeRemote) File(ctx context.Context, matter, fileID string, version int64) (api.FileVersion, error) {
	return retry(ctx, p.maxWait, func() (api.FileVersion, error) { return p.Remote.File(ctx, matter, fileID, version) })
}

func (p politeRemote) Versions(ctx context.Context, matter, fileID string) (api.Versions, error) {
	return retry(ctx, p.maxWait, func() (api.Versions, error) { return p.Remote.Versions(ctx, matter, fileID) })
}

func (p politeRemote) Delete(ctx context.Context, matter, fileID string, base int64, tombstone []byte) (api.Commit, error) {
	return retry(ctx, p.maxWait, func() (api.Commit, error) { return p.Remote.Delete(ctx, matter, fileID, base, tombstone) })
}

func (p politeRemote) Changes(ctx context.Context, matter string, since int64, wait time.Duration) (api.Changes, error) {
	return retry(ctx, p.maxWait, func() (api.Changes, error) { return p.Remote.Changes(ctx, matter, since, wait) })
}

func (p politeRemote) Feed(ctx context.Context, cursors map[string]int64, wait time.Duration) (api.Feed, error) {
	return retry(ctx, p.maxWait, func() (api.Feed, error) { return p.Remote.Feed(ctx, cursors, wait) })
}

func (p politeRemote) Matters(ctx context.Context) (api.WhoAmI, error) {
	return retry(ctx, p.maxWait, func() (api.WhoAmI, error) { return p.Remote.Matters(ctx) })
}
