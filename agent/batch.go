package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
)

// Small files go to the gateway in batches (POST /v1/matters/{m}/batch):
// a file of at most smallFileBytes is one chunk, and uploading it alone costs a
// chunk upload and a commit, two requests and two audited transactions on
// the gateway; a batch carries the chunks and commits of up to
// batchFiles files (batchBytes of sealed data) in one request and one
// transaction. Each file is read once, as upload reads it (unchanged
// across the read), sealed, and committed in the batch; a file the batch
// did not commit (a colleague's edit first, a chunk stored by someone else
// that must be opened first, a gateway without batches) takes the single
// path, upload, which handles every case as before.
// smallFileBytes must stay below format.MinChunkSize (addToBatch takes a
// small file as one chunk); the constant below fails to compile otherwise.
const _ = uint(format.MinChunkSize - smallFileBytes - 1)

const (
	smallFileBytes = format.MinChunkSize - 1
	// A full batch is at most 200 items (a chunk and a commit per file):
	// the two in flight fit in the gateway's default per-user burst of
	// 400 tokens, one per item. A batch refused 429 is sent again after
	// Retry-After (politeRemote).
	batchFiles      = 100
	batchSealed     = 4 << 20
	batchesInFlight = 2
)

// batcher is optionally implemented by a Remote (gateway/client does).
type batcher interface {
	Batch(ctx context.Context, matter string, req api.BatchRequest) (api.BatchResponse, error)
}

func (p politeRemote) batcher() batcher {
	if _, ok := p.Remote.(batcher); ok {
		return p
	}
	return nil
}

func (p politeRemote) Batch(ctx context.Context, matter string, req api.BatchRequest) (api.BatchResponse, error) {
	return retry(ctx, p.maxWait, func() (api.BatchResponse, error) { return p.Remote.(batcher).Batch(ctx, matter, req) })
}

// remoteBatcher is the agent's remote as a batcher, or nil.
func (a *Agent) remoteBatcher() batcher {
	switch r := a.remote.(type) {
	case politeRemote:
		return r.batcher()
	case batcher:
		return r
	}
	return nil
}

// batchItem is one small file in a batch.
type batchItem struct {
	rel   string
	fid   format.ID
	base  int64
	after stat
	hash  [32]byte
}

// fileBatch is a batch being filled.
type fileBatch struct {
	req   api.BatchRequest
	items []batchItem
	sent  map[format.ID]bool
	bytes int
}

// uploadSmall uploads the small files of rels in batches. Files it cannot
// send in a batch go through upload (one at a time, here). Per-file
// problems are reported in res; the first other error stops it.
func (m *matterSync) uploadSmall(ctx context.Context, mk *matterKeys, rels []string, res *passResult, mu *sync.Mutex) error {
	b := m.a.remoteBatcher()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex // guards firstErr
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	failed := func() bool {
		errMu.Lock()
		defer errMu.Unlock()
		return firstErr != nil
	}
	// single runs the single path for one file and reports as uploadAll
	// does.
	single := func(rel string) {
		var r passResult
		err := m.upload(ctx, mk, rel, &r)
		mu.Lock()
		res.add(r)
		switch {
		case err == nil:
		case perFile(err):
			res.skip(rel, "%v", err)
		default:
			fail(err)
		}
		mu.Unlock()
		m.a.progressStep(m.id)
	}
	if b == nil {
		for _, rel := range rels {
			if single(rel); failed() {
				break
			}
		}
		return firstErr
	}
	slots := make(chan struct{}, batchesInFlight)
	send := func(fb *fileBatch) {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			retry, err := m.sendBatch(ctx, b, fb, res, mu)
			if err != nil {
				fail(err)
				return
			}
			for _, rel := range retry {
				if failed() {
					return
				}
				single(rel)
			}
		}()
	}
	fb := &fileBatch{sent: map[format.ID]bool{}}
	for _, rel := range rels {
		if failed() || ctx.Err() != nil {
			break
		}
		ok, err := m.addToBatch(ctx, mk, fb, rel, res, mu)
		switch {
		case err != nil && perFile(err):
			mu.Lock()
			res.skip(rel, "%v", err)
			mu.Unlock()
			m.a.progressStep(m.id)
		case err != nil:
			fail(err)
		case !ok:
			single(rel)
		}
		if len(fb.items) >= batchFiles || fb.bytes >= batchSealed {
			send(fb)
			fb = &fileBatch{sent: map[format.ID]bool{}}
		}
	}
	if len(fb.items) > 0 && !failed() {
		send(fb)
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// addToBatch reads the small file at rel once and adds its chunk (unless
// this agent knows the gateway has it) and its commit to fb. It returns
// false, and adds nothing, for a file the single path must take (read-only
// matter, grown meanwhile); a file merely touched is recorded here.
func (m *matterSync) addToBatch(ctx context.Context, mk *matterKeys, fb *fileBatch, rel string, res *passResult, mu *sync.Mutex) (bool, error) {
	row, err := m.a.idx.File(ctx, m.id, rel)
	hasRow := err == nil
	if err != nil && !errors.Is(err, index.ErrNotFound) {
		return false, err
	}
	before, err := m.fs.lstat(rel)
	if err != nil || !before.exists || !before.mode.IsRegular() {
		if err == nil {
			m.a.progressStep(m.id) // gone since the scan: the next scan sees a delete
		}
		return true, err
	}
	if m.role != kms.RoleRW || before.size > smallFileBytes {
		return false, nil
	}
	f, err := m.fs.open(rel)
	if err != nil {
		return false, err
	}
	data, err := io.ReadAll(io.LimitReader(f, smallFileBytes+1))
	f.Close()
	if err != nil {
		return false, fmt.Errorf("read: %w", localErr(err))
	}
	after, err := m.fs.lstat(rel)
	if err != nil {
		return false, err
	}
	if !after.same(before) || after.size != int64(len(data)) {
		return false, errFileChanging
	}
	hash := sha256.Sum256(data)
	if hasRow && [32]byte(row.Hash) == hash {
		// Touched, not changed: remember the new mtime, send nothing.
		row.Size, row.MtimeNs = after.size, after.mtimeNs
		m.a.progressStep(m.id)
		return true, m.a.idx.PutFile(ctx, row)
	}
	// Below format.MinChunkSize the chunker cuts nowhere but at the end:
	// the file is its one chunk (none if empty), with no chunker and its
	// 16 MiB buffer.
	k := mk.current
	var refs []format.ChunkRef
	var ids []string
	if len(data) > 0 {
		id := k.ChunkID(data)
		refs = []format.ChunkRef{{ID: id, Size: uint32(len(data))}}
		ids = []string{id.String()}
		if !fb.sent[id] && !m.a.isKnownChunk(m.id, id) {
			sealed, err := m.a.getCodec().SealChunk(nil, k, id, data)
			if err != nil {
				return false, err
			}
			fb.sent[id] = true
			fb.req.Chunks = append(fb.req.Chunks, api.BatchChunk{ID: id.String(), Sealed: sealed})
			fb.bytes += len(sealed)
		}
	}
	fid, err := mk.fileIDs.FileID(rel)
	if err != nil {
		return false, err
	}
	base := int64(0)
	if hasRow {
		base = int64(row.Version)
	}
	man := &format.Manifest{Path: rel, Version: uint64(base) + 1, Size: uint64(len(data)), ModTime: time.Unix(0, before.mtimeNs),
		Mode: uint32(before.mode.Perm()), ContentHash: hash, Chunks: refs, Author: m.a.entity,
		Device: m.a.cfg.DeviceName, Created: time.Now()}
	sealed, _, err := k.SealManifest(nil, man)
	if err != nil {
		return false, err
	}
	fb.req.Commits = append(fb.req.Commits, api.BatchCommit{FileID: fid.String(), Base: base, Manifest: sealed, Chunks: ids})
	fb.items = append(fb.items, batchItem{rel: rel, fid: fid, base: base, after: after, hash: hash})
	fb.bytes += len(sealed)
	return true, nil
}

// sendBatch sends fb and records what it committed. It returns the files
// the single path must take: those the batch refused (a concurrent edit, a
// chunk to open first, ...), or all of them when the gateway refused the
// batch itself as a request it does not take (an older gateway).
func (m *matterSync) sendBatch(ctx context.Context, b batcher, fb *fileBatch, res *passResult, mu *sync.Mutex) ([]string, error) {
	out, err := b.Batch(ctx, m.id, fb.req)
	if err != nil {
		var ce *client.Error
		status := 0
		if errors.As(err, &ce) {
			status = ce.Status
		}
		switch {
		case status == http.StatusNotFound, status == http.StatusMethodNotAllowed, // a gateway (or proxy) without batches
			remoteCode(err) == api.CodeInvalidRequest, remoteCode(err) == api.CodeTooLarge, remoteCode(err) == api.CodeStaleEpoch:
			m.a.log.Info("batch refused by the gateway: files sent one by one", "matter", m.id, "files", len(fb.items), "err", err)
			rels := make([]string, len(fb.items))
			for i, it := range fb.items {
				rels[i] = it.rel
			}
			return rels, nil
		}
		return nil, fmt.Errorf("batch of %d files: %w", len(fb.items), err)
	}
	for i, c := range out.Chunks {
		if c.Created && c.ID == fb.req.Chunks[i].ID {
			id, _ := format.ParseID(c.ID)
			m.a.knownChunk(m.id, id)
		}
	}
	var retry []string
	for i, it := range fb.items {
		r := out.Commits[i]
		if r.FileID != it.fid.String() {
			return nil, fmt.Errorf("batch: the gateway answered file %s for %s: %w", r.FileID, it.fid, errTampered)
		}
		if r.Status == http.StatusCreated && r.Version != it.base+1 {
			// A gateway that answers another version could make this
			// agent ignore every later change to the file.
			return nil, fmt.Errorf("commit %s: gateway answered version %d for version %d: %w", it.rel, r.Version, it.base+1, errTampered)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(fb.items))
	for i, it := range fb.items {
		r := out.Commits[i]
		if r.Status != http.StatusCreated {
			retry = append(retry, it.rel)
			continue
		}
		m.a.log.Info("file uploaded", "matter", m.id, "path", it.rel, "version", r.Version, "bytes", it.after.size)
		// Concurrent PutFile calls share one index transaction.
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.a.idx.PutFile(ctx, index.File{Matter: m.id, Path: it.rel, FileID: it.fid.String(), Size: it.after.size,
				MtimeNs: it.after.mtimeNs, Mode: uint32(it.after.mode.Perm()), Hash: it.hash[:], Version: uint64(r.Version)})
		}()
	}
	wg.Wait()
	n := 0
	for i, err := range errs {
		if out.Commits[i].Status != http.StatusCreated {
			continue
		}
		if err != nil {
			return nil, err
		}
		n++
		m.a.progressStep(m.id)
	}
	mu.Lock()
	res.uploaded += n
	mu.Unlock()
	return retry, nil
}
