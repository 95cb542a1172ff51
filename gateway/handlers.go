package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// ChunkStore records the chunks whose ciphertext is in the blob store
// (the chunk handlers).
type ChunkStore interface {
	// MissingChunks returns the IDs in ids that matter has no chunk for,
	// in the order given.
	MissingChunks(ctx context.Context, matter string, ids []format.ID) ([]format.ID, error)
	// Chunk returns a stored chunk, or store.ErrNotFound.
	Chunk(ctx context.Context, matter string, id format.ID) (store.Chunk, error)
	// PutChunk records a chunk whose blob is stored. created is false if
	// it was already recorded (the first size is kept).
	PutChunk(ctx context.Context, c store.Chunk, rec *audit.Record) (created bool, err error)
	// ReplaceChunk points a chunk at the new object r names if its object
	// is still r.OldKey, records r and rec with it; store.ErrNotFound if
	// the chunk is not recorded, store.ErrChunkChanged if its object is
	// another.
	ReplaceChunk(ctx context.Context, r store.ChunkReplacement, rec *audit.Record) error
}

// FileStore keeps file versions and each matter's change feed (the file
// and change handlers).
type FileStore interface {
	// Commit creates version c.Base+1 of a file (see store.Commit). It
	// returns *store.VersionMismatchError, store.ErrAlreadyDeleted,
	// *store.StaleEpochError, store.ErrLegalHold or
	// *store.MissingChunksError (checked in that order) when the commit
	// is refused. It never changes the matter's epoch: c.Epoch below it is
	// refused, above it is recorded with the version and nothing more (the
	// gateway refuses that before, checkEpoch).
	Commit(ctx context.Context, c store.Commit, write store.WriteFunc, rec *audit.Record) (store.Version, error)
	// Version returns one version of a file, the head when version is 0,
	// or store.ErrNotFound.
	Version(ctx context.Context, matter string, file format.ID, version int64) (store.Version, error)
	// Versions returns up to limit versions of a file older than before
	// (all when before is 0), newest first; store.ErrNotFound if the file
	// has none.
	Versions(ctx context.Context, matter string, file format.ID, before int64, limit int) ([]store.Version, error)
	// Changes returns up to limit versions of matter with Seq > since in
	// Seq order, and the matter's latest sequence number.
	Changes(ctx context.Context, matter string, since int64, limit int) ([]store.Version, int64, error)
	// CommitBatch records b's chunks and commits b's versions, each
	// checked as Commit checks it, in one transaction with their audit
	// records (store.Batch); a refused commit gets its error, the others
	// go on. An error means nothing of b was recorded.
	CommitBatch(ctx context.Context, b *store.Batch) error
	// Heads returns the latest sequence number of each of matters that
	// has one (a matter without a commit is absent: head 0).
	Heads(ctx context.Context, matters []string) (map[string]int64, error)
}

func (s *Server) routes() {
	s.deviceRoutes()
	s.handle("/v1/matters", map[string]method{
		http.MethodGet: {"matters.list", permAny, s.listMatters},
	})
	s.handle("/v1/matters/{m}/chunks/missing", map[string]method{
		http.MethodPost: {"chunk.missing", permRead, s.missingChunks},
	})
	s.handle("/v1/matters/{m}/chunks/{id}", map[string]method{
		http.MethodGet: {"chunk.get", permRead, s.getChunk},
		http.MethodPut: {"chunk.put", permWrite, s.putChunk},
	})
	s.handle("/v1/matters/{m}/files/{file}", map[string]method{
		http.MethodGet:    {"file.get", permRead, s.getFile},
		http.MethodPut:    {"file.commit", permWrite, s.commitFile},
		http.MethodDelete: {"file.delete", permWrite, s.deleteFile},
	})
	s.handle("/v1/matters/{m}/batch", map[string]method{
		http.MethodPost: {"file.batch", permWrite, s.batch},
	})
	s.handle("/v1/matters/{m}/files/{file}/versions", map[string]method{
		http.MethodGet: {"file.versions", permRead, s.fileVersions},
	})
	s.handle("/v1/matters/{m}/changes", map[string]method{
		http.MethodGet: {"changes", permRead, s.changes},
	})
	s.handle("/v1/feed", map[string]method{
		http.MethodPost: {"feed", permAny, s.feed},
	})
	s.handle("/v1/admin/deny", map[string]method{
		http.MethodGet:  {"admin.deny.list", permAdmin, s.denyList},
		http.MethodPost: {"admin.deny.add", permAdmin, s.denyAdd},
	})
	s.handle("/v1/admin/deny/{entity}", map[string]method{
		http.MethodDelete: {"admin.deny.remove", permAdmin, s.denyRemove},
	})
	s.handle("/v1/admin/deny/{entity}/reissue", map[string]method{
		http.MethodPost: {"admin.deny.reissue", permAdmin, s.denyReissue},
	})
	s.handle("/v1/admin/matters/{m}/hold", map[string]method{
		http.MethodGet:    {"admin.hold.get", permAdmin, s.unscreened(s.holdGet)},
		http.MethodPut:    {"admin.hold.on", permAdmin, s.unscreened(s.holdSet(true))},
		http.MethodDelete: {"admin.hold.off", permAdmin, s.unscreened(s.holdSet(false))},
	})
	s.handle("/v1/admin/matters/{m}/hold/history", map[string]method{
		http.MethodGet: {"admin.hold.history", permAdmin, s.unscreened(s.holdHistory)},
	})
	s.handle("/v1/admin/holds", map[string]method{
		http.MethodGet: {"admin.hold.list", permAdmin, s.holdList},
	})
	s.handle("/v1/admin/matters/{m}/epoch", map[string]method{
		http.MethodGet: {"admin.epoch.get", permAdmin, s.unscreened(s.epochGet)},
		http.MethodPut: {"admin.epoch.set", permAdmin, s.unscreened(s.epochSet)},
	})
	s.handle("/v1/admin/matters/{m}/usage", map[string]method{
		http.MethodGet: {"admin.usage", permAdmin, s.unscreened(s.usageGet)},
	})
	s.handle("/v1/admin/audit", map[string]method{
		http.MethodGet: {"admin.audit.export", permAdmin, s.auditExport},
	})
	s.handle("/v1/admin/audit/verify", map[string]method{
		http.MethodPost: {"admin.audit.verify", permAdmin, s.auditVerify},
	})
	s.handle("/v1/admin/matters/{m}/close", map[string]method{
		http.MethodGet:  {"admin.close.get", permAdmin, s.unscreened(s.closeGet)},
		http.MethodPost: {"admin.close", permAdmin, s.unscreened(s.closePost)},
	})
	s.evidenceRoutes()
	s.witnessRoutes()
	s.lifecycleRoutes()
	s.presenceRoutes()
	s.shareRoutes()
	s.consoleRoutes()
	s.requestRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.refuse(w, r, requestFrom(r), E("route", KindNotFound, "no such endpoint"))
	})
}

// parseID validates a chunk or file ID from the path and records it.
func parseID(rq *request, op, what, v string) (format.ID, error) {
	id, err := format.ParseID(v)
	if err != nil {
		rq.rec.Object = quoteBad(v)
		return id, E(op, KindInvalid, "invalid %s ID (64 lowercase hex characters)", what)
	}
	rq.rec.Object = v
	return id, nil
}

// pathID validates the ID in path value key (a chunk or file ID, as what
// says) and records it, then reads the query, allowing only allowed.
func pathID(r *http.Request, rq *request, op, what, key string, allowed ...string) (format.ID, url.Values, error) {
	id, err := parseID(rq, op, what, r.PathValue(key))
	if err != nil {
		return id, nil, err
	}
	q, err := queryParams(r, op, allowed...)
	return id, q, err
}

// queryParams returns r's query, refusing parameters outside allowed and
// repeated ones: a typo must not silently change what a request means.
func queryParams(r *http.Request, op string, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, E(op, KindInvalid, "malformed query string")
	}
	for k, v := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return nil, E(op, KindInvalid, "unknown query parameter %q", k)
		}
		if len(v) != 1 {
			return nil, E(op, KindInvalid, "query parameter %q given %d times", k, len(v))
		}
	}
	return q, nil
}

// intParam parses an optional integer parameter within [lo, hi].
func intParam(q url.Values, op, name string, def, lo, hi int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		if q.Has(name) {
			return 0, E(op, KindInvalid, "%s is empty", name)
		}
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, E(op, KindInvalid, "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// decodeJSON reads a JSON body strictly: bounded size, no unknown fields,
// nothing after the value.
func decodeJSON(w http.ResponseWriter, r *http.Request, op string, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return E(op, KindInvalid, "Content-Type must be application/json")
	}
	if r.ContentLength > limit {
		return E(op, KindTooLarge, "body larger than %d bytes", limit)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return E(op, KindTooLarge, "body larger than %d bytes", limit)
		}
		return wrap(op, KindInvalid, err, "malformed JSON body: "+jsonProblem(err))
	}
	if dec.More() {
		return E(op, KindInvalid, "malformed JSON body: data after the object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return E(op, KindTooLarge, "body larger than %d bytes", limit)
		}
		return E(op, KindInvalid, "malformed JSON body: data after the object")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errBadChunkID):
		return errBadChunkID.Error()
	case errors.As(err, &se):
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "field " + strconv.Quote(te.Field) + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "body is empty or truncated"
	}
	return "cannot decode"
}

// storeErr maps a store or blob failure: refusals keep their meaning,
// everything else means a dependency is down.
func storeErr(op string, err error) error {
	var mismatch *store.VersionMismatchError
	var missing *store.MissingChunksError
	var stale *store.StaleEpochError
	var present *store.PresentChunksError
	switch {
	case errors.As(err, &stale):
		return staleEpoch(op, stale.Got, stale.Current, err)
	case errors.As(err, &mismatch):
		cur := mismatch.Current
		return &Error{Op: op, Kind: KindVersionMismatch, Msg: fmt.Sprintf("the file's current version is %d", cur),
			Current: &cur, CurrentDeleted: mismatch.Deleted, Err: err}
	case errors.As(err, &missing):
		ids := make([]string, 0, min(len(missing.IDs), 1000))
		for _, id := range missing.IDs[:min(len(missing.IDs), 1000)] {
			ids = append(ids, id.String())
		}
		return &Error{Op: op, Kind: KindMissingChunks, Msg: fmt.Sprintf("%d referenced chunks are not stored", len(missing.IDs)), Missing: ids, Err: err}
	case errors.As(err, &present):
		ids := make([]string, 0, min(len(present.IDs), 1000))
		for _, id := range present.IDs[:min(len(present.IDs), 1000)] {
			ids = append(ids, id.String())
		}
		return &Error{Op: op, Kind: KindChunksPresent, Present: ids, Err: err,
			Msg: fmt.Sprintf("%d chunks sent with this commit were stored already (not by this request): open them, then commit again", len(present.IDs))}
	case errors.Is(err, store.ErrTooManyDevices):
		return wrap(op, KindForbidden, err, fmt.Sprintf("this user has %d devices in the inventory, the most it keeps: IT removes one before another is reported", store.MaxDevicesPerEntity))
	case errors.Is(err, store.ErrLegalHold):
		return wrap(op, KindLegalHold, err, "the matter is under legal hold: deletes are refused")
	case errors.Is(err, store.ErrMatterClosed):
		return wrap(op, KindMatterClosed, err, "the matter was closed: it takes no more changes and is no longer synced")
	case errors.Is(err, store.ErrAlreadyDeleted):
		return wrap(op, KindAlreadyDeleted, err, "the file is already deleted")
	case errors.Is(err, store.ErrNotFound):
		return wrap(op, KindNotFound, err, "not found")
	case errors.Is(err, blob.ErrChecksum):
		return wrap(op, KindChecksumMismatch, err, "body does not match "+api.HeaderChecksum)
	case errors.Is(err, context.Canceled):
		return wrap(op, KindUnavailable, err, "request cancelled")
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return wrap(op, KindUnavailable, err, "storage unavailable")
}

// notFound is storeErr, but a missing record is refused as msg says.
func notFound(op string, err error, msg string) error {
	if errors.Is(err, store.ErrNotFound) {
		return E(op, KindNotFound, "%s", msg)
	}
	return storeErr(op, err)
}

// notStored is storeErr for reading the object of a what the store
// records: a missing object is the gateway's fault, not the caller's.
func notStored(op string, err error, what string) error {
	if errors.Is(err, blob.ErrNotFound) {
		return wrap(op, KindInternal, err, what+" recorded but not in storage")
	}
	return storeErr(op, err)
}

// staleEpoch refuses an object sealed under epoch got while the matter is
// at current (FORMAT.md section 10): the agent fetches the new key and
// seals again, so "new epoch for new writes" holds for stale key caches.
func staleEpoch(op string, got, current uint32, err error) *Error {
	return &Error{Op: op, Kind: KindStaleEpoch, CurrentEpoch: current, Err: err,
		Msg: fmt.Sprintf("sealed under epoch %d, but the matter is at epoch %d: seal again with the epoch %d key", got, current, current)}
}

// checkEpoch refuses an upload sealed under an epoch below the matter's,
// or above it once the matter has one: only the admin's rotation step
// moves the gateway's epoch (epochSet), never an upload, so an epoch the
// gateway does not know yet is refused until the admin tells it (a matter
// at 0 has never been told anything and refuses nothing).
func (s *Server) checkEpoch(ctx context.Context, op, matter string, epoch uint32) error {
	cur, err := s.epochs.Epoch(ctx, matter)
	if err != nil {
		return storeErr(op, err)
	}
	return epochRefusal(op, matter, epoch, cur)
}

// extendDeadlines gives a transfer of n bytes time at the minimum rate.
func (s *Server) extendDeadlines(w http.ResponseWriter, rq *request, n int64, extra time.Duration) {
	rc := http.NewResponseController(w)
	d := rq.start.Add(s.cfg.Limits.RequestTimeout + extra + time.Duration(n/s.cfg.Limits.MinTransferRate)*time.Second)
	_ = rc.SetReadDeadline(d)
	_ = rc.SetWriteDeadline(d)
}

func (s *Server) listMatters(w http.ResponseWriter, r *http.Request, rq *request) error {
	if _, err := queryParams(r, "matters.list"); err != nil {
		return err
	}
	who := api.WhoAmI{Entity: rq.ident.Entity, User: rq.ident.User, Admin: rq.ident.Admin, Matters: []api.Matter{}}
	for _, m := range rq.ident.Matters() {
		role := api.RoleRead
		if rq.ident.Role(m) == auth.Write {
			role = api.RoleWrite
		}
		who.Matters = append(who.Matters, api.Matter{ID: m, Role: role})
	}
	if s.closed != nil {
		closed, err := s.closed.ClosedMatters(r.Context(), rq.ident.Entity, rq.ident.Matters())
		if err != nil {
			return storeErr("matters.list", err)
		}
		for _, c := range closed {
			// Behind a wall the matter is not closed for this user but
			// gone (their agent applies on_access_lost), and its closing
			// is none of their business.
			if rq.ident.Screened(c.Matter) {
				continue
			}
			who.Closed = append(who.Closed, api.ClosedMatter{ID: c.Matter, Closed: c.Time})
		}
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, who)
}

// missingBodyLimit bounds a missing-chunks body: 64 hex, quotes and a
// comma per ID.
func missingBodyLimit(l Limits) int64 { return int64(l.MaxBatchIDs)*70 + 1024 }

func (s *Server) missingChunks(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "chunk.missing"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.MissingRequest
	if err := decodeJSON(w, r, op, missingBodyLimit(s.cfg.Limits), &req); err != nil {
		return err
	}
	if len(req.IDs) > s.cfg.Limits.MaxBatchIDs {
		return E(op, KindTooLarge, "at most %d IDs per request", s.cfg.Limits.MaxBatchIDs)
	}
	ids := make([]format.ID, len(req.IDs))
	for i, v := range req.IDs {
		id, err := format.ParseID(v)
		if err != nil {
			return E(op, KindInvalid, "ids[%d] is not a valid chunk ID", i)
		}
		ids[i] = id
	}
	rq.rec.Object = fmt.Sprintf("%d ids", len(ids))
	missing, err := s.chunks.MissingChunks(r.Context(), rq.matter, ids)
	if err != nil {
		return storeErr(op, err)
	}
	resp := api.MissingResponse{Missing: make([]string, len(missing))}
	for i, id := range missing {
		resp.Missing[i] = id.String()
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, resp)
}

func (s *Server) getChunk(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "chunk.get"
	id, _, err := pathID(r, rq, op, "chunk", "id")
	if err != nil {
		return err
	}
	c, err := s.chunks.Chunk(r.Context(), rq.matter, id)
	if err != nil {
		return notFound(op, err, "chunk not found")
	}
	key, err := chunkKey(c)
	if err != nil {
		return wrap(op, KindInternal, err, "internal error")
	}
	body, size, err := s.blobs.Get(r.Context(), key)
	if err != nil {
		return notStored(op, err, "chunk")
	}
	defer body.Close()
	if size != c.Size {
		return wrap(op, KindInternal, fmt.Errorf("stored size %d, recorded %d", size, c.Size), "chunk size mismatch in storage")
	}
	rq.rec.Bytes = size
	if err := s.appendAudit(r.Context(), rq, http.StatusOK, size); err != nil {
		return err
	}
	s.extendDeadlines(w, rq, size, 0)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, body); err != nil {
		// Headers are out; the client sees a short body.
		s.log.Warn("chunk download cut", "request_id", rq.id, "err", err)
	}
	return nil
}

// sourceReader remembers the error reading the client's body, to tell a
// cut upload from a storage failure.
type sourceReader struct {
	r   io.Reader
	n   int64
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func (s *Server) putChunk(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "chunk.put"
	id, _, err := pathID(r, rq, op, "chunk", "id")
	if err != nil {
		return err
	}
	size := r.ContentLength
	switch {
	case size < 0:
		return E(op, KindLengthRequired, "Content-Length is required")
	case size == 0:
		return E(op, KindInvalid, "empty chunk")
	case size > s.cfg.Limits.MaxChunkBytes:
		return E(op, KindTooLarge, "chunk larger than %d bytes", s.cfg.Limits.MaxChunkBytes)
	}
	sum, err := checksumHeader(r, op)
	if err != nil {
		return err
	}
	if len(r.Header.Values(api.HeaderReplaces)) > 0 {
		return s.replaceChunk(w, r, rq, id, size, sum)
	}
	if c, err := s.chunks.Chunk(r.Context(), rq.matter, id); err == nil {
		// Idempotent: the chunk is stored; the body is not read.
		return s.respond(r.Context(), w, rq, http.StatusOK, api.ChunkPut{ID: id.String(), Size: c.Size, Created: false})
	} else if !errors.Is(err, store.ErrNotFound) {
		return storeErr(op, err)
	}
	key, err := blob.ChunkKey(rq.matter, id)
	if err != nil {
		return wrap(op, KindInternal, err, "internal error")
	}
	body, src, err := s.chunkBody(w, r, rq, op, id, size)
	if err != nil {
		return err
	}
	status, moved := http.StatusCreated, size
	err = s.blobs.Create(r.Context(), key, body, size, sum)
	switch {
	case errors.Is(err, blob.ErrExists):
		// Another upload of this chunk won (or one whose record failed):
		// chunks are immutable, so the first one stays and is recorded.
		if size, err = s.blobs.Size(r.Context(), key); err != nil {
			return storeErr(op, err)
		}
		status, moved = http.StatusOK, 0
	case err != nil:
		if src.err != nil || src.n < size {
			return wrap(op, KindIncompleteBody, err, fmt.Sprintf("body ended after %d of %d bytes", src.n, size))
		}
		return storeErr(op, err)
	}
	rq.rec.Bytes, rq.rec.Status, rq.rec.Result = moved, status, audit.ResultOK
	created, err := s.chunks.PutChunk(r.Context(), store.Chunk{Matter: rq.matter, ID: id, Size: size, Time: time.Now()}, &rq.rec)
	if err != nil {
		// The object is in S3 but not recorded: invisible, collected
		// later as garbage.
		return wrap(op, KindUnavailable, err, "storage unavailable")
	}
	s.mutated(rq)
	writeJSON(w, status, api.ChunkPut{ID: id.String(), Size: size, Created: created && status == http.StatusCreated})
	return nil
}

// checksumHeader reads the body's SHA-256 from api.HeaderChecksum.
func checksumHeader(r *http.Request, op string) ([32]byte, error) {
	var sum [32]byte
	hs := r.Header.Values(api.HeaderChecksum)
	if len(hs) != 1 || len(hs[0]) != 64 || strings.ToLower(hs[0]) != hs[0] {
		return sum, E(op, KindInvalid, "%s must be the body's SHA-256 in 64 lowercase hex characters", api.HeaderChecksum)
	}
	if _, err := hex.Decode(sum[:], []byte(hs[0])); err != nil {
		return sum, E(op, KindInvalid, "%s must be the body's SHA-256 in 64 lowercase hex characters", api.HeaderChecksum)
	}
	return sum, nil
}

// maxReferences is the most chunk references a file of at most maxSize
// (> 0) bytes has: the chunker cuts no chunk but the last below
// MinChunkSize, so n references hold at least (n-1)*MinChunkSize+1 bytes.
// References to one chunk count each time (a file of zeros is one chunk
// referenced throughout).
func maxReferences(maxSize int64) int64 {
	return (maxSize-1)/format.MinChunkSize + 1
}

// chunkBody reads and checks the clear header of a chunk upload of size
// bytes: it must bind the chunk to this matter and ID, state exactly this
// length (FORMAT.md, "What the gateway enforces") and an epoch not below
// the matter's. It returns the whole body, header first.
func (s *Server) chunkBody(w http.ResponseWriter, r *http.Request, rq *request, op string, id format.ID, size int64) (io.Reader, *sourceReader, error) {
	s.extendDeadlines(w, rq, size, 0)
	src := &sourceReader{r: r.Body}
	hdr := make([]byte, format.HeaderSize)
	if size < format.HeaderSize {
		return nil, nil, E(op, KindInvalid, "not a sealed chunk: shorter than its %d-byte header", format.HeaderSize)
	}
	if _, err := io.ReadFull(src, hdr); err != nil {
		return nil, nil, wrap(op, KindIncompleteBody, err, fmt.Sprintf("body ended after %d of %d bytes", src.n, size))
	}
	h, err := format.ParseHeader(hdr)
	if err == nil {
		err = h.Check(format.KindChunk, rq.matter, id, 0)
	}
	if err != nil {
		return nil, nil, wrap(op, KindInvalid, err, "not a sealed chunk of this matter and ID: "+strings.TrimPrefix(err.Error(), "format: "))
	}
	if h.SealedSize() != size {
		return nil, nil, E(op, KindInvalid, "Content-Length is %d but the chunk header says %d", size, h.SealedSize())
	}
	if err := s.checkEpoch(r.Context(), op, rq.matter, h.Epoch); err != nil {
		return nil, nil, err
	}
	return io.MultiReader(bytes.NewReader(hdr), src), src, nil
}

// replaceChunk replaces a stored chunk that failed verification on a
// reader (issue 19: a planted chunk could be detected but never removed,
// and every later upload of the chunk deduplicated to it). The gateway
// cannot open a chunk, so it cannot tell a bad one from a good one; what
// keeps a writer from silently overwriting a good chunk is that
//
//   - the writer names, in X-Mattersync-Replaces, the SHA-256 of the object
//     it found bad, and the gateway hashes the stored object: a replacement
//     meant for another object, or raced by another replacement, is
//     refused (412);
//   - the new object has the chunk's valid header (matter, ID, length,
//     epoch) and other bytes than the old one;
//   - it goes under a key of its own, never over the old object, which
//     stays in storage; the store points the chunk at the new key and
//     records the replacement (old and new key, size and SHA-256, who, when)
//     in one transaction with the audit record, action chunk.replace;
//   - only the matter's writers may (the route is write-only);
//   - only a chunk that no committed version references, in a matter not
//     under legal hold (the store checks both in the transaction): history
//     is never repointed. Agents open a stored chunk before committing on
//     it, so a planted chunk is found (and replaced) before an honest
//     version references it.
//
// Left: between a writer's check of a stored chunk and its commit, another
// writer could still replace the chunk (unreferenced until that commit);
// the replacement is audited with its author and the old object kept.
func (s *Server) replaceChunk(w http.ResponseWriter, r *http.Request, rq *request, id format.ID, size int64, sum [32]byte) error {
	const op = "chunk.replace"
	rq.rec.Action = op
	var old [32]byte
	hs := r.Header.Values(api.HeaderReplaces)
	if len(hs) != 1 || len(hs[0]) != 64 || strings.ToLower(hs[0]) != hs[0] {
		return E(op, KindInvalid, "%s must be the SHA-256 of the stored object, in 64 lowercase hex characters", api.HeaderReplaces)
	}
	if _, err := hex.Decode(old[:], []byte(hs[0])); err != nil {
		return E(op, KindInvalid, "%s must be the SHA-256 of the stored object, in 64 lowercase hex characters", api.HeaderReplaces)
	}
	if old == sum {
		return E(op, KindInvalid, "the replacement is the object it replaces (same SHA-256)")
	}
	c, err := s.chunks.Chunk(r.Context(), rq.matter, id)
	if err != nil {
		return notFound(op, err, "no such chunk to replace")
	}
	oldKey, err := chunkKey(c)
	if err != nil {
		return wrap(op, KindInternal, err, "internal error")
	}
	got, err := s.blobSum(r.Context(), oldKey)
	if err != nil {
		return notStored(op, err, "chunk")
	}
	if got != old {
		return E(op, KindVersionMismatch, "the stored chunk's SHA-256 is %x, not the one %s names: it was replaced meanwhile; check it again", got, api.HeaderReplaces)
	}
	body, src, err := s.chunkBody(w, r, rq, op, id, size)
	if err != nil {
		return err
	}
	plain, _ := blob.ChunkKey(rq.matter, id)
	newKey := plain + "." + rq.id
	if err := s.blobs.Create(r.Context(), newKey, body, size, sum); err != nil {
		if src.err != nil || src.n < size {
			return wrap(op, KindIncompleteBody, err, fmt.Sprintf("body ended after %d of %d bytes", src.n, size))
		}
		return storeErr(op, err)
	}
	rq.rec.Object = fmt.Sprintf("%s sha256 %x -> %x", id, old, sum)
	rq.rec.Bytes, rq.rec.Status, rq.rec.Result = size, http.StatusOK, audit.ResultOK
	err = s.chunks.ReplaceChunk(r.Context(), store.ChunkReplacement{Matter: rq.matter, ID: id, OldKey: c.Key, NewKey: newKey,
		OldSize: c.Size, NewSize: size, OldSum: old, NewSum: sum, Entity: rq.ident.Entity, Device: rq.rec.Device, Time: time.Now()}, &rq.rec)
	switch {
	case errors.Is(err, store.ErrChunkChanged):
		// The new object is left unreferenced: garbage.
		return wrap(op, KindVersionMismatch, err, "the chunk was replaced meanwhile; check it again")
	case errors.Is(err, store.ErrChunkReferenced):
		return wrap(op, KindVersionMismatch, err, "committed versions reference this chunk: it cannot be replaced (history is never repointed); report it to IT")
	case errors.Is(err, store.ErrLegalHold):
		return wrap(op, KindLegalHold, err, "the matter is under legal hold: its chunks cannot be replaced")
	case err != nil:
		return notFound(op, err, "no such chunk to replace")
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, api.ChunkPut{ID: id.String(), Size: size, Created: false, Replaced: true})
	return nil
}

// chunkKey is where a chunk's object is.
func chunkKey(c store.Chunk) (string, error) {
	if c.Key != "" {
		return c.Key, nil
	}
	return blob.ChunkKey(c.Matter, c.ID)
}

// blobSum is the SHA-256 of the object under key, streamed.
func (s *Server) blobSum(ctx context.Context, key string) ([32]byte, error) {
	var sum [32]byte
	body, _, err := s.blobs.Get(ctx, key)
	if err != nil {
		return sum, err
	}
	defer body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// commitBody is api.CommitRequest as the gateway decodes it: chunk IDs go
// straight into 32-byte IDs, not through a string each (a commit may list
// hundreds of thousands).
type commitBody struct {
	Manifest []byte    `json:"manifest"`
	Chunks   []chunkID `json:"chunks"`
}

// chunkID is a format.ID in JSON: a string of 64 lowercase hex characters.
type chunkID format.ID

// errBadChunkID refuses a chunk ID in a JSON body.
var errBadChunkID = errors.New("a chunk ID is not 64 lowercase hex characters")

// UnmarshalJSON parses the quoted hex form without allocating a string.
func (c *chunkID) UnmarshalJSON(b []byte) error {
	if len(b) != 2*format.IDSize+2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errBadChunkID
	}
	for _, ch := range b[1 : len(b)-1] {
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
			return errBadChunkID
		}
	}
	if _, err := hex.Decode(c[:], b[1:len(b)-1]); err != nil {
		return errBadChunkID
	}
	return nil
}

// ids returns the chunk IDs of a commit body.
func (b *commitBody) ids() []format.ID {
	out := make([]format.ID, len(b.Chunks))
	for i, c := range b.Chunks {
		out[i] = format.ID(c)
	}
	return out
}

// preconditions reads If-Match / If-None-Match: the base version of a
// commit (0 for a new file).
func preconditions(r *http.Request, op string, allowCreate bool) (int64, error) {
	im, inm := r.Header.Values("If-Match"), r.Header.Values("If-None-Match")
	switch {
	case len(im) > 0 && len(inm) > 0:
		return 0, E(op, KindInvalid, "send If-Match or If-None-Match, not both")
	case len(im) > 1 || len(inm) > 1:
		return 0, E(op, KindInvalid, "one precondition header only")
	case len(im) == 1:
		v, ok := api.ParseETag(im[0])
		if !ok {
			return 0, E(op, KindInvalid, `If-Match must be one version, e.g. "3"`)
		}
		return v, nil
	case len(inm) == 1:
		if !allowCreate {
			return 0, E(op, KindInvalid, "If-None-Match is not allowed here")
		}
		if strings.TrimSpace(inm[0]) != "*" {
			return 0, E(op, KindInvalid, "If-None-Match must be *")
		}
		return 0, nil
	}
	if allowCreate {
		return 0, E(op, KindPreconditionRequired, `If-Match: "<base version>" or If-None-Match: * is required`)
	}
	return 0, E(op, KindPreconditionRequired, `If-Match: "<version>" is required`)
}

func (s *Server) commitFile(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "file.commit"
	file, _, err := pathID(r, rq, op, "file", "file")
	if err != nil {
		return err
	}
	base, err := preconditions(r, op, true)
	if err != nil {
		return err
	}
	req, h, err := s.commitBody(w, r, rq, op, file, base)
	if err != nil {
		return err
	}
	// Deletes use DELETE, so that a hold can refuse them.
	if h.Tombstone {
		return E(op, KindInvalid, "a deletion is committed with DELETE, not as a tombstone manifest")
	}
	if len(req.Chunks) > s.cfg.Limits.MaxCommitChunks {
		return E(op, KindTooLarge, "at most %d chunk references per commit", s.cfg.Limits.MaxCommitChunks)
	}
	// A dedup bomb (issue 19): one tiny chunk referenced ~466,000 times
	// declares terabytes every reader would write out. The declared size
	// is sealed, but the reference count bounds it from below.
	if n, most := int64(len(req.Chunks)), maxReferences(s.cfg.Limits.MaxFileSize); n > most {
		return E(op, KindFileTooLarge, "%d chunk references describe a file of at least %d bytes, more than max_file_size (%d bytes): every chunk but the last holds at least %d bytes (FORMAT.md section 5), so a file within the limit has at most %d",
			n, (n-1)*format.MinChunkSize+1, s.cfg.Limits.MaxFileSize, format.MinChunkSize, most)
	}
	chunks := req.ids()
	req.Chunks = nil
	return s.commitVersion(w, r, rq, op, http.StatusCreated,
		store.Commit{File: file, Base: base, Epoch: h.Epoch, Chunks: chunks}, req.Manifest)
}

func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "file.delete"
	file, _, err := pathID(r, rq, op, "file", "file")
	if err != nil {
		return err
	}
	base, err := preconditions(r, op, false)
	if err != nil {
		return err
	}
	// The tombstone is sealed by a member, so that storage or a gateway
	// that is not trusted with integrity cannot forge a delete every agent
	// would obey.
	if r.ContentLength == 0 {
		return E(op, KindInvalid, `a delete needs a body: the sealed tombstone manifest, as {"manifest": "<base64>", "chunks": []}`)
	}
	req, h, err := s.commitBody(w, r, rq, op, file, base)
	if err != nil {
		return err
	}
	if !h.Tombstone {
		return E(op, KindInvalid, "the manifest is not a tombstone (its header's tombstone flag is not set): a delete carries a sealed tombstone manifest")
	}
	if len(req.Chunks) > 0 {
		return E(op, KindInvalid, "a tombstone references no chunks: chunks must be empty")
	}
	rq.rec.Object = file.String() + "@" + strconv.FormatInt(base+1, 10)
	return s.commitVersion(w, r, rq, op, http.StatusOK,
		store.Commit{File: file, Base: base, Deleted: true, Epoch: h.Epoch}, req.Manifest)
}

// commitBody reads a commit or delete body and checks its sealed manifest
// is for this file as version base+1.
func (s *Server) commitBody(w http.ResponseWriter, r *http.Request, rq *request, op string, file format.ID, base int64) (commitBody, format.Header, error) {
	var req commitBody
	if err := decodeJSON(w, r, op, s.cfg.Limits.MaxCommitBytes, &req); err != nil {
		return req, format.Header{}, err
	}
	h, err := sealedManifest(op, req.Manifest, rq.matter, file, base)
	return req, h, err
}

// commitVersion stores manifest as the next version c describes (its
// matter, size, author and time filled in here), audited with status, and
// answers with the new version.
func (s *Server) commitVersion(w http.ResponseWriter, r *http.Request, rq *request, op string, status int, c store.Commit, manifest []byte) error {
	c.Matter, c.Size = rq.matter, int64(len(manifest))
	rq.rec.Bytes, rq.rec.Status, rq.rec.Result = c.Size, status, audit.ResultOK
	c.Entity, c.User, c.Device, c.Time = rq.ident.Entity, rq.ident.User, rq.rec.Device, time.Now()
	if c.Epoch != 0 {
		// Below the matter's epoch the store refuses too (under its lock);
		// above it only here.
		if err := s.checkEpoch(r.Context(), op, c.Matter, c.Epoch); err != nil {
			rq.rec.Object = c.File.String()
			return err
		}
	}
	began := s.live.committing()
	v, err := s.files.Commit(r.Context(), c, s.writeManifest(rq, c.File, manifest), &rq.rec)
	if err != nil {
		rq.rec.Object = c.File.String()
		return storeErr(op, err)
	}
	s.mutated(rq)
	s.live.committed(c.Matter, began)
	w.Header().Set("ETag", api.ETag(v.Version))
	writeJSON(w, status, api.Commit{FileID: c.File.String(), Version: v.Version, Seq: v.Seq, Deleted: c.Deleted})
	return nil
}

// sealedManifest checks what the gateway can check of a sealed manifest
// without a key (FORMAT.md section 10): its clear header binds it to this
// matter, file and version base+1, and it is exactly as long as the header
// says.
func sealedManifest(op string, m []byte, matter string, file format.ID, base int64) (format.Header, error) {
	if len(m) == 0 {
		return format.Header{}, E(op, KindInvalid, "manifest is empty")
	}
	h, err := format.ParseHeader(m)
	if err == nil {
		err = h.Check(format.KindManifest, matter, file, uint64(base+1))
	}
	if err != nil {
		return h, wrap(op, KindInvalid, err, fmt.Sprintf("not a manifest sealed for this file as version %d: %s", base+1, strings.TrimPrefix(err.Error(), "format: ")))
	}
	if h.SealedSize() != int64(len(m)) {
		return h, E(op, KindInvalid, "manifest is %d bytes but its header says %d", len(m), h.SealedSize())
	}
	return h, nil
}

// writeManifest returns the store.WriteFunc that stores a sealed manifest
// (or tombstone) under a key of its own for this attempt, never replacing
// an object: a commit whose database session is lost mid-write may still
// land its object after another replica committed the same version, and
// must not replace that one's manifest. The store records the key.
func (s *Server) writeManifest(rq *request, file format.ID, manifest []byte) store.WriteFunc {
	sum := sha256.Sum256(manifest)
	return func(ctx context.Context, version int64) (string, error) {
		key, err := blob.ManifestAttemptKey(rq.matter, file, version, rq.id)
		if err != nil {
			return "", err
		}
		rq.rec.Object = file.String() + "@" + strconv.FormatInt(version, 10)
		return key, s.blobs.Create(ctx, key, bytes.NewReader(manifest), int64(len(manifest)), sum)
	}
}

// manifestKey is where a version's manifest is stored.
func manifestKey(v store.Version) (string, error) {
	if v.ManifestKey != "" {
		return v.ManifestKey, nil
	}
	return blob.ManifestKey(v.Matter, v.File, v.Version)
}

func fileVersion(v store.Version) api.FileVersion {
	fv := api.FileVersion{FileID: v.File.String(), Version: v.Version, Seq: v.Seq, Deleted: v.Deleted, Size: v.Size, Epoch: v.Epoch, Time: v.Time,
		AuthorEntity: v.Entity, AuthorName: v.User}
	if v.ChunkListSum != nil {
		fv.ChunkListSHA256 = hex.EncodeToString(v.ChunkListSum)
	}
	return fv
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "file.get"
	file, q, err := pathID(r, rq, op, "file", "file", "version")
	if err != nil {
		return err
	}
	version, err := intParam(q, op, "version", 0, 1, 1<<53)
	if err != nil {
		return err
	}
	v, err := s.files.Version(r.Context(), rq.matter, file, version)
	if err != nil {
		return notFound(op, err, "file or version not found")
	}
	rq.rec.Object = file.String() + "@" + strconv.FormatInt(v.Version, 10)
	fv := fileVersion(v)
	w.Header().Set("ETag", api.ETag(v.Version))
	// Tombstones recorded before deletes carried a manifest have none
	// (size 0).
	if v.Deleted && v.Size == 0 {
		return s.respond(r.Context(), w, rq, http.StatusOK, fv)
	}
	key, err := manifestKey(v)
	if err != nil {
		return wrap(op, KindInternal, err, "internal error")
	}
	body, size, err := s.blobs.Get(r.Context(), key)
	if err != nil {
		return notStored(op, err, "manifest")
	}
	defer body.Close()
	if size != v.Size {
		return wrap(op, KindInternal, fmt.Errorf("object %s has %d bytes, the version records %d", key, size, v.Size), "manifest size mismatch in storage")
	}
	rq.rec.Bytes = size
	return s.streamVersion(r.Context(), w, rq, fv, body, size)
}

// streamVersion answers with fv and its manifest, read from body (size
// bytes) and base64-encoded on the way out, never held whole: a manifest
// may be max_commit_bytes, and reads only take a copy buffer's worth of
// the in-flight budget (inflight.go). The bytes are what json.Marshal
// makes of an api.FileVersion with the manifest set.
func (s *Server) streamVersion(ctx context.Context, w http.ResponseWriter, rq *request, fv api.FileVersion, body io.Reader, size int64) error {
	fv.Manifest = nil
	head, err := json.Marshal(fv)
	if err != nil {
		return wrap("file.get", KindInternal, err, "internal error")
	}
	head = append(head[:len(head)-1], `,"manifest":"`...) // manifest is the last field
	const tail = "\"}\n"
	if err := s.appendAudit(ctx, rq, http.StatusOK, size); err != nil {
		return err
	}
	s.extendDeadlines(w, rq, size, 0)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.FormatInt(int64(len(head))+int64(base64.StdEncoding.EncodedLen(int(size)))+int64(len(tail)), 10))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := base64.NewEncoder(base64.StdEncoding, w)
	_, err = w.Write(head)
	if err == nil {
		var n int64
		if n, err = io.Copy(enc, io.LimitReader(body, size)); err == nil && n < size {
			err = io.ErrUnexpectedEOF
		}
	}
	if err == nil {
		if err = enc.Close(); err == nil {
			_, err = io.WriteString(w, tail)
		}
	}
	if err != nil {
		// Headers are out; the client sees a short body.
		s.log.Warn("manifest download cut", "request_id", rq.id, "err", err)
	}
	return nil
}

func (s *Server) fileVersions(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "file.versions"
	file, q, err := pathID(r, rq, op, "file", "file", "before", "limit")
	if err != nil {
		return err
	}
	before, err := intParam(q, op, "before", 0, 1, 1<<53)
	if err != nil {
		return err
	}
	limit, err := intParam(q, op, "limit", 1000, 1, 1000)
	if err != nil {
		return err
	}
	vs, err := s.files.Versions(r.Context(), rq.matter, file, before, int(limit))
	if err != nil {
		return notFound(op, err, "file not found")
	}
	resp := api.Versions{FileID: file.String(), Versions: make([]api.FileVersion, len(vs))}
	for i, v := range vs {
		resp.Versions[i] = fileVersion(v)
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, resp)
}

// stillAllowed checks again, during a long poll, what authorize checked
// at its start: a fresh deny list without the caller, no reissue stamp
// after its token, and a token not expired.
func (s *Server) stillAllowed(op string, rq *request) error {
	denied, fresh := s.live.denied(rq.ident.Entity, s.cfg.Limits.DenyMaxStaleness)
	switch {
	case !fresh:
		return &Error{Op: op, Kind: KindUnavailable, Msg: "gateway cannot reach its store", RetryAfter: time.Second}
	case denied:
		s.metrics.denials.WithLabelValues("revoked").Inc()
		return E(op, KindRevoked, "access revoked")
	case !rq.ident.Expiry.IsZero() && time.Now().After(rq.ident.Expiry.Add(s.cfg.Vault.Leeway)):
		return E(op, KindUnauthenticated, "identity token expired")
	}
	return s.checkReissue(rq.ident)
}

// waitParam is a long poll's wait parameter: absent is 0 (answer at
// once), at most limits.max_wait.
func (s *Server) waitParam(q url.Values, op string) (time.Duration, error) {
	wait, ok := parseWait(q.Get("wait"))
	if !ok || (q.Has("wait") && q.Get("wait") == "") {
		return 0, E(op, KindInvalid, "wait must be a duration like 30s or whole seconds")
	}
	if wait > s.cfg.Limits.MaxWait {
		return 0, E(op, KindInvalid, "wait must be at most %s", s.cfg.Limits.MaxWait)
	}
	return wait, nil
}

// parseWait accepts a Go duration ("30s") or whole seconds ("30").
func parseWait(v string) (time.Duration, bool) {
	if v == "" {
		return 0, true
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 1<<20 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	d, err := time.ParseDuration(v)
	return d, err == nil && d >= 0
}

func (s *Server) changes(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "changes"
	q, err := queryParams(r, op, "since", "wait", "limit")
	if err != nil {
		return err
	}
	since, err := intParam(q, op, "since", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intParam(q, op, "limit", 1000, 1, 1000)
	if err != nil {
		return err
	}
	wait, err := s.waitParam(q, op)
	if err != nil {
		return err
	}
	rq.rec.Object = "since=" + strconv.FormatInt(since, 10)
	release, err := s.admitLongPoll(op, rq, wait)
	if err != nil {
		return err
	}
	defer release()
	s.extendDeadlines(w, rq, 0, wait)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	// While waiting, the caller is checked again at every wake-up (changes,
	// deny-list and reissue changes) and at least every deny_max_staleness.
	recheck := time.NewTicker(s.cfg.Limits.DenyMaxStaleness)
	defer recheck.Stop()
	for {
		// Take the wake-up channel before reading, so a commit between
		// the read and the wait is not missed.
		wake := s.live.wait(rq.matter)
		vs, head, err := s.files.Changes(r.Context(), rq.matter, since, int(limit)+1)
		if err != nil {
			return storeErr(op, err)
		}
		timedOut, woken := false, false
		// A caller ahead of the feed (since > head) saw changes this store
		// no longer has (restored from a backup): it is answered at once,
		// so the agent notices at this poll, not after the wait.
		for len(vs) == 0 && wait > 0 && since <= head && !timedOut && !woken {
			select {
			case <-wake:
				woken = true
			case <-recheck.C:
			case <-deadline.C:
				timedOut = true
			case <-r.Context().Done():
				return wrap(op, KindUnavailable, r.Context().Err(), "request cancelled")
			}
			// A caller revoked or stamped during the wait gets nothing
			// more, and a replica that lost the deny list answers nothing.
			if err := s.stillAllowed(op, rq); err != nil {
				return err
			}
		}
		if woken {
			continue
		}
		if timedOut {
			// One last look, so the answer's head is current.
			if vs, head, err = s.files.Changes(r.Context(), rq.matter, since, int(limit)+1); err != nil {
				return storeErr(op, err)
			}
		}
		resp := api.Changes{Changes: make([]api.Change, 0, len(vs)), Head: head}
		if len(vs) > int(limit) {
			vs, resp.More = vs[:limit], true
		}
		for _, v := range vs {
			resp.Changes = append(resp.Changes, api.Change{Seq: v.Seq, FileID: v.File.String(), Version: v.Version, Deleted: v.Deleted})
		}
		return s.respond(r.Context(), w, rq, http.StatusOK, resp)
	}
}
