package agent

import (
	"context"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
)

// Remote is the gateway API as the agent uses it; gateway/client implements
// it. Errors carry the gateway's api.Code (see remoteCode).
type Remote interface {
	MissingChunks(ctx context.Context, matter string, ids []string) ([]string, error)
	PutChunk(ctx context.Context, matter, id string, sealed []byte) error
	GetChunk(ctx context.Context, matter, id string) ([]byte, error)
	// Commit stores a new version: base 0 means "a new file"
	// (If-None-Match: *), otherwise If-Match: base.
	Commit(ctx context.Context, matter, fileID string, base int64, req api.CommitRequest) (api.Commit, error)
	// File returns version (0: the head) of a file, with its manifest.
	File(ctx context.Context, matter, fileID string, version int64) (api.FileVersion, error)
	Versions(ctx context.Context, matter, fileID string) (api.Versions, error)
	Delete(ctx context.Context, matter, fileID string, base int64) (api.Commit, error)
	Changes(ctx context.Context, matter string, since int64, wait time.Duration) (api.Changes, error)
}

// Keys is what the agent needs from Vault (kms.Keyring implements it).
type Keys interface {
	Matters(ctx context.Context) ([]kms.Matter, error)
	CurrentKey(ctx context.Context, matter string) (uint32, []byte, error)
	EpochKey(ctx context.Context, matter string, n uint32) ([]byte, error)
	Wipe()
}
