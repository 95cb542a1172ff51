package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// simAgent is one simulated laptop: a real Vault login (identity tokens,
// epoch keys unwrapped by Vault transit), the real gateway client, real
// chunking and sealing (format). It long-polls all its matters' feeds in
// one request (POST /v1/feed), as the agent does, downloads and opens what other members commit, and saves new
// files and edits at a random rate.
type simAgent struct {
	r       *runner
	idx     int
	name    string
	kr      *kms.Keyring
	gw      *client.Client
	matters []*agentMatter
	rng     *rand.Rand // saver goroutine only
	chunker *format.Chunker
	dl      chan download
	n       int // files created (saver only)
}

// agentMatter is what an agent knows of one of its matters.
type agentMatter struct {
	id   string
	keys *format.Keys

	mu    sync.Mutex // guards files, have, own
	files map[format.ID]*simFile
	have  map[format.ID]bool   // chunks downloaded or uploaded
	own   map[fileVersion]bool // versions this agent is committing
}

type fileVersion struct {
	file    format.ID
	version int64
}

// simFile is a file of a matter as the agent last knew it. Its content is
// regenerated from (kind, size, offset) plus a header naming the version,
// so an edit changes the first chunk only, as a real edit near the start
// of a document would.
type simFile struct {
	path         string
	id           format.ID
	version      int64
	text         bool
	size, offset int
}

type download struct {
	m       *agentMatter
	file    format.ID
	version int64
}

// content is the file's bytes for version v.
func (a *simAgent) content(f *simFile, v int64) []byte {
	pool := a.r.random
	if f.text {
		pool = a.r.text
	}
	b := make([]byte, 0, f.size)
	b = fmt.Appendf(b, "%s v%d %s %d\n", f.path, v, a.name, time.Now().UnixNano())
	b = append(b, pool[f.offset:f.offset+max(0, f.size-len(b))]...)
	return b[:f.size]
}

// newFile invents a file of the size mix: mostly small documents, some
// office files and PDFs, a few of MiB size.
func (a *simAgent) newFile(m *agentMatter) (*simFile, error) {
	cfg := a.r.cfg
	f := &simFile{}
	switch x := a.rng.Float64(); {
	case x < cfg.BigShare:
		f.size = 1<<20 + a.rng.IntN(max(1, cfg.MaxBig-1<<20))
	case x < cfg.BigShare+0.25:
		f.size = 64<<10 + a.rng.IntN(960<<10)
	default:
		f.size, f.text = 2<<10+a.rng.IntN(62<<10), true
	}
	ext := ".pdf"
	if f.text {
		ext = ".txt"
	}
	a.n++
	f.path = fmt.Sprintf("Correspondence/%s/%s-%05d%s", a.name, a.name, a.n, ext)
	id, err := m.keys.FileIDs().FileID(f.path)
	if err != nil {
		return nil, err
	}
	f.id = id
	f.offset = a.r.offset(a.rng, f.text, f.size)
	return f, nil
}

// saveOne saves a new file or edits a known one in a random matter.
func (a *simAgent) saveOne(ctx context.Context) {
	m := a.matters[a.rng.IntN(len(a.matters))]
	var f *simFile
	if a.rng.Float64() < a.r.cfg.EditShare {
		m.mu.Lock()
		for _, g := range m.files { // map order: a random known file
			if g.version > 0 {
				c := *g
				f = &c
				break
			}
		}
		m.mu.Unlock()
	}
	if f == nil {
		var err error
		if f, err = a.newFile(m); err != nil {
			a.r.failed.add("save: "+err.Error(), 1)
			return
		}
	}
	// A concurrent edit by another member: the agent keeps both (the
	// conflict copy is a new file); here the edit is made again on top
	// of the current version, at most three times.
	for range 3 {
		cur, err := a.save(ctx, m, f)
		var conflict *conflictError
		if errors.As(err, &conflict) {
			a.r.events.add("conflict (concurrent edit), saved again on the new head", 1)
			f.version = conflict.current
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				a.r.failed.add("save: "+errKind(err), 1)
			}
			return
		}
		f.version = cur
		m.mu.Lock()
		m.files[f.id] = f
		m.mu.Unlock()
		return
	}
}

type conflictError struct{ current int64 }

func (e *conflictError) Error() string {
	return fmt.Sprintf("version mismatch (current %d)", e.current)
}

// save commits the next version of f: chunks, seals, asks which chunks the
// gateway lacks, uploads them, seals the manifest, commits. It returns the
// committed version.
func (a *simAgent) save(ctx context.Context, m *agentMatter, f *simFile) (int64, error) {
	base := f.version
	data := a.content(f, base+1)
	man := &format.Manifest{Path: f.path, Version: uint64(base + 1), Size: uint64(len(data)), ModTime: time.Now(),
		Mode: 0o644, ContentHash: sha256.Sum256(data), Author: a.kr.EntityID(), Device: a.name + "-laptop", Created: time.Now()}
	sealed := map[string][]byte{}
	var ids []string
	a.chunker.Reset(bytes.NewReader(data))
	for {
		c, err := a.chunker.Next()
		if err != nil {
			break // io.EOF: a bytes.Reader has no other error
		}
		id := m.keys.ChunkID(c)
		s, err := a.r.codec.SealChunk(nil, m.keys, id, c)
		if err != nil {
			return 0, err
		}
		man.Chunks = append(man.Chunks, format.ChunkRef{ID: id, Size: uint32(len(c))})
		if _, dup := sealed[id.String()]; !dup {
			ids = append(ids, id.String())
		}
		sealed[id.String()] = s
	}
	manifest, _, err := m.keys.SealManifest(nil, man)
	if err != nil {
		return 0, err
	}
	refs := make([]string, len(man.Chunks))
	for i, c := range man.Chunks {
		refs[i] = c.ID.String()
	}
	fv := fileVersion{f.id, base + 1}
	m.mu.Lock()
	m.own[fv] = true
	m.mu.Unlock()

	start := time.Now()
	var missing []string
	if err := a.call(ctx, "missing", func() (err error) {
		missing, err = a.gw.MissingChunks(ctx, m.id, ids)
		return err
	}); err != nil {
		return 0, err
	}
	for _, id := range missing {
		if err := a.call(ctx, "put chunk", func() error { return a.gw.PutChunk(ctx, m.id, id, sealed[id]) }); err != nil {
			return 0, err
		}
	}
	var done api.Commit
	var unanswered bool
	commitStart := time.Now()
	err = a.call(ctx, "commit", func() error {
		c, err := a.gw.Commit(ctx, m.id, f.id.String(), base, api.CommitRequest{Manifest: manifest, Chunks: refs})
		if err == nil {
			done = c
			return nil
		}
		if client.Code(err) == api.CodeVersionMismatch {
			var e *client.Error
			errors.As(err, &e)
			if unanswered {
				// An earlier attempt may have been committed with its
				// answer lost (a replica killed after the commit): if
				// the version there is this manifest, it is ours.
				got, ferr := a.gw.File(ctx, m.id, f.id.String(), base+1)
				if ferr == nil && bytes.Equal(got.Manifest, manifest) {
					a.r.events.add("commit applied though its answer was lost", 1)
					done = api.Commit{FileID: got.FileID, Version: got.Version, Seq: got.Seq}
					return nil
				}
			}
			cur := base + 1 // unknown: the next attempt learns it
			if e.Body.CurrentVersion != nil {
				cur = *e.Body.CurrentVersion
			}
			return &conflictError{current: cur}
		}
		if fault.Of(err) == fault.Unavailable {
			unanswered = true
		}
		return err
	})
	if err != nil {
		m.mu.Lock()
		delete(m.own, fv)
		m.mu.Unlock()
		return 0, err
	}
	now := time.Now()
	a.r.commitDone(a, m.id, done, len(data), now.Sub(start), now.Sub(commitStart), now)
	m.mu.Lock()
	for _, id := range ids {
		if k, err := format.ParseID(id); err == nil {
			m.have[k] = true
		}
	}
	m.mu.Unlock()
	return done.Version, nil
}

// feed long-polls all the agent's matters in one request (POST /v1/feed),
// as the agent does, and reads the changes of each matter with news until
// ctx ends. Every change is recorded as seen by this agent; another
// member's version is queued for download.
func (a *simAgent) feed(ctx context.Context) {
	since := map[string]int64{}
	byID := map[string]*agentMatter{}
	for _, m := range a.matters {
		since[m.id] = 0
		byID[m.id] = m
	}
	for ctx.Err() == nil {
		var news api.Feed
		err := a.call(ctx, "feed", func() (err error) {
			wctx, cancel := context.WithTimeout(ctx, a.r.cfg.Wait+30*time.Second)
			defer cancel()
			news, err = a.gw.Feed(wctx, since, a.r.cfg.Wait)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				a.r.failed.add("feed: "+errKind(err), 1)
				sleep(ctx, time.Second)
			}
			continue
		}
		for _, n := range news.Matters {
			switch m := byID[n.Matter]; {
			case m == nil:
			case n.Head > since[n.Matter]:
				since[n.Matter] = a.changes(ctx, m, since[n.Matter])
			default: // the feed went back: follow it, do not spin
				since[n.Matter] = n.Head
			}
		}
	}
}

// changes reads matter m's changes after since, every page, and returns
// the last sequence number read.
func (a *simAgent) changes(ctx context.Context, m *agentMatter, since int64) int64 {
	for ctx.Err() == nil {
		var page api.Changes
		err := a.call(ctx, "changes", func() (err error) {
			page, err = a.gw.Changes(ctx, m.id, since, 0)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				a.r.failed.add("changes: "+errKind(err), 1)
			}
			return since
		}
		now := time.Now()
		for _, c := range page.Changes {
			since = max(since, c.Seq)
			a.r.seen(a.idx, m.id, c.Seq, now)
			id, err := format.ParseID(c.FileID)
			if err != nil {
				continue
			}
			m.mu.Lock()
			own := m.own[fileVersion{id, c.Version}]
			delete(m.own, fileVersion{id, c.Version})
			if f := m.files[id]; f != nil {
				f.version = max(f.version, c.Version)
			}
			m.mu.Unlock()
			if !own && !c.Deleted && a.r.cfg.Download {
				select {
				case a.dl <- download{m, id, c.Version}:
				default:
					a.r.events.add("download skipped (agent's queue full)", 1)
				}
			}
		}
		if !page.More {
			return since
		}
	}
	return since
}

// downloads fetches and opens each queued version: the sealed manifest,
// then every chunk the agent does not hold, each authenticated.
func (a *simAgent) downloads(ctx context.Context) {
	for {
		var d download
		select {
		case <-ctx.Done():
			return
		case d = <-a.dl:
		}
		if err := a.fetch(ctx, d); err != nil && ctx.Err() == nil {
			a.r.failed.add("download: "+errKind(err), 1)
		}
	}
}

func (a *simAgent) fetch(ctx context.Context, d download) error {
	m := d.m
	var fv api.FileVersion
	if err := a.call(ctx, "get file", func() (err error) {
		fv, err = a.gw.File(ctx, m.id, d.file.String(), d.version)
		return err
	}); err != nil {
		return err
	}
	man, err := m.keys.OpenManifest(fv.Manifest, d.file, uint64(d.version))
	if err != nil {
		return fmt.Errorf("open manifest: %w", err)
	}
	m.mu.Lock()
	if m.files[d.file] == nil {
		f := &simFile{path: man.Path, id: d.file, version: d.version, size: int(man.Size), text: man.Size < 64<<10}
		f.offset = a.r.offset(rand.New(rand.NewPCG(uint64(d.version), uint64(a.idx))), f.text, f.size)
		m.files[d.file] = f
	}
	m.mu.Unlock()
	for _, c := range man.Chunks {
		m.mu.Lock()
		have := m.have[c.ID]
		m.mu.Unlock()
		if have {
			continue
		}
		var sealed []byte
		if err := a.call(ctx, "get chunk", func() (err error) {
			sealed, err = a.gw.GetChunk(ctx, m.id, c.ID.String())
			return err
		}); err != nil {
			return err
		}
		if _, err := a.r.codec.OpenChunk(nil, m.keys, c.ID, sealed); err != nil {
			return fmt.Errorf("open chunk: %w", err)
		}
		m.mu.Lock()
		m.have[c.ID] = true
		m.mu.Unlock()
	}
	a.r.downloaded.Add(1)
	return nil
}

// call runs fn, retrying what the agent retries (the gateway or the path
// to it unavailable, rate limits) with backoff, as the real agent does.
// Every failed attempt is counted by kind; a retry by what was retried.
func (a *simAgent) call(ctx context.Context, what string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		var c *conflictError
		if errors.As(err, &c) {
			return err
		}
		a.r.errs.add(what+": "+errKind(err), 1)
		if !retryable(err) || attempt >= a.r.cfg.MaxAttempts {
			return err
		}
		a.r.retries.add(what, 1)
		wait := min(100*time.Millisecond<<min(attempt, 5), 3*time.Second)
		var e *client.Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			wait = max(wait, e.RetryAfter)
		}
		wait += time.Duration(rand.Int64N(int64(wait/4) + 1))
		if !sleep(ctx, wait) {
			return err
		}
	}
}

func retryable(err error) bool {
	var e *client.Error
	if errors.As(err, &e) {
		switch e.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		// The body was cut on the way (a replica killed behind HAProxy):
		// the agent sends it again too (agent/remote.go).
		if e.Body.Code == api.CodeIncompleteBody {
			return true
		}
	}
	return fault.Of(err) == fault.Unavailable
}

// errKind names an error for the report: the gateway's status and code,
// or what happened to the connection.
func errKind(err error) string {
	var e *client.Error
	if errors.As(err, &e) {
		return fmt.Sprintf("%d %s", e.Status, e.Body.Code)
	}
	s := err.Error()
	for _, k := range []string{"connection refused", "connection reset", "EOF", "timeout", "deadline exceeded", "broken pipe", "auth"} {
		if strings.Contains(s, k) {
			return fault.Of(err).String() + " (" + k + ")"
		}
	}
	return fault.Of(err).String()
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// countingTransport counts requests (long-polls apart) and answers by
// status class.
type countingTransport struct {
	r    *runner
	next http.RoundTripper
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/v1/feed" && req.URL.Query().Get("wait") != "" {
		t.r.polls.Add(1)
	} else {
		t.r.requests.Add(1)
	}
	return t.next.RoundTrip(req)
}

// seedOf makes a PCG seed from a name.
func seedOf(s string) uint64 {
	h := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint64(h[:8])
}
