package agent

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
)

// matterKeys are the derived keys of one matter for one sync pass. They are
// built from the kms cache (no Vault call while it is warm) at the start of
// a pass and dropped at its end, so they never outlive the kms TTL by more
// than one pass, and Wipe takes effect at the next pass.
type matterKeys struct {
	matter  string
	src     Keys
	fileIDs *format.FileIDKey
	current *format.Keys

	mu      sync.Mutex // guards byEpoch: files are synced in parallel
	byEpoch map[uint32]*format.Keys
}

func loadMatterKeys(ctx context.Context, src Keys, matter string) (*matterKeys, error) {
	e1, err := src.EpochKey(ctx, matter, 1)
	if err != nil {
		return nil, fmt.Errorf("matter %s: epoch 1 key: %w", matter, err)
	}
	defer clear(e1)
	fileIDs, err := format.DeriveFileIDKey(matter, e1)
	if err != nil {
		return nil, err
	}
	mk := &matterKeys{matter: matter, src: src, fileIDs: fileIDs, byEpoch: map[uint32]*format.Keys{}}
	n, cur, err := src.CurrentKey(ctx, matter)
	if err != nil {
		return nil, fmt.Errorf("matter %s: current key: %w", matter, err)
	}
	defer clear(cur)
	if mk.current, err = format.DeriveKeys(fileIDs, n, cur); err != nil {
		return nil, err
	}
	mk.byEpoch[n] = mk.current
	return mk, nil
}

// epoch returns the keys of epoch n, for reading objects sealed under it.
func (mk *matterKeys) epoch(ctx context.Context, n uint32) (*format.Keys, error) {
	mk.mu.Lock()
	defer mk.mu.Unlock()
	if k, ok := mk.byEpoch[n]; ok {
		return k, nil
	}
	raw, err := mk.src.EpochKey(ctx, mk.matter, n)
	if kms.KindOf(err) == kms.NotFound {
		// No such epoch in Vault (kms itself re-asks after a rotation it
		// had not seen): an object naming it is one file's problem, never
		// a reason to stop the matter.
		return nil, fmt.Errorf("matter %s: epoch %d does not exist: %w", mk.matter, n, format.ErrWrongEpoch)
	}
	if err != nil {
		return nil, fmt.Errorf("matter %s: epoch %d key: %w", mk.matter, n, err)
	}
	defer clear(raw)
	k, err := format.DeriveKeys(mk.fileIDs, n, raw)
	if err != nil {
		return nil, err
	}
	mk.byEpoch[n] = k
	return k, nil
}

// openVersion opens the manifest of a file version the gateway served,
// bound to version. Its header's epoch must be the epoch the gateway
// recorded when the version was committed (FORMAT.md §12): a version
// written straight into storage under an old epoch, by someone who kept a
// removed member's keys, is refused before it is opened.
func (mk *matterKeys) openVersion(ctx context.Context, fv api.FileVersion, fileID format.ID, version uint64) (*format.Manifest, uint32, error) {
	h, err := format.ParseHeader(fv.Manifest)
	if err != nil {
		return nil, 0, err
	}
	if h.Epoch != fv.Epoch {
		return nil, 0, fmt.Errorf("version %d is sealed under epoch %d but was committed under epoch %d (written around the gateway?): %w",
			version, h.Epoch, fv.Epoch, errTampered)
	}
	man, epoch, err := mk.openManifest(ctx, fv.Manifest, fileID, version)
	if err == nil {
		err = boundChunks(fv, man, version)
	}
	return man, epoch, err
}

// boundChunks checks that the manifest lists exactly the chunks the
// gateway recorded for the version (issue 19): a writer whose commit body
// named other chunks than its manifest would leave garbage collection
// blind to chunks the file needs. Versions recorded before the gateway
// kept the list carry none.
func boundChunks(fv api.FileVersion, man *format.Manifest, version uint64) error {
	if fv.ChunkListSHA256 == "" {
		return nil
	}
	ids := make([]format.ID, len(man.Chunks))
	for i, c := range man.Chunks {
		ids[i] = c.ID
	}
	if sum := api.ChunkListSum(ids); hex.EncodeToString(sum[:]) != fv.ChunkListSHA256 {
		return fmt.Errorf("version %d lists other chunks than the gateway recorded at its commit: %w", version, errTampered)
	}
	return nil
}

// openManifest opens a sealed manifest with the keys of the epoch its
// header names, and returns that epoch too.
func (mk *matterKeys) openManifest(ctx context.Context, sealed []byte, fileID format.ID, version uint64) (*format.Manifest, uint32, error) {
	h, err := format.ParseHeader(sealed)
	if err != nil {
		return nil, 0, err
	}
	k, err := mk.epoch(ctx, h.Epoch)
	if err != nil {
		return nil, 0, err
	}
	man, err := k.OpenManifest(sealed, fileID, version)
	return man, h.Epoch, err
}
