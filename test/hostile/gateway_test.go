// Package hostile is the permanent suite of attacks from the hostile
// security review (issue 19): each test replays one attack and checks that
// it stays harmless. Agent attacks run against a fake malicious gateway,
// an httptest server speaking the gateway's API (gateway/api) that answers
// whatever the test makes it answer, with manifests sealed under the real
// matter keys from a real Vault (a member, or a removed member, forging
// them).
package hostile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
)

// fakeGateway stores what it is given and serves it back, like the real
// gateway, except where a test tampers with it. It counts requests per
// route so a test can tell what the agent asked for.
type fakeGateway struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex // guards everything below
	matters  []api.Matter
	chunks   map[string][]byte
	versions map[string][]api.FileVersion // file ID -> versions, oldest first
	changes  map[string][]api.Change      // matter -> feed
	seq      int64
	hits     map[string]int
	gets     map[string]int // chunk ID -> downloads
	// revoked makes every request answer 403 revoked, as the real gateway
	// does for an entity on its deny list (and as anything answering at
	// the gateway's URL can).
	revoked bool
	// key signs revocation statements for statementsFor (the entity the
	// real gateway would read from the token); "" sends none, as an
	// impostor without the gateway's key would.
	key           ed25519.PrivateKey
	statementsFor string
	// tamper, if set, edits each file version before it is served.
	tamper func(*api.FileVersion)
	// chunkBudget, if positive, is how many chunk downloads are served;
	// later ones get 404, so a test of an agent that downloads what it
	// should not fails instead of filling the disk.
	chunkBudget int
}

func newFakeGateway(t *testing.T) *fakeGateway {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGateway{t: t, chunks: map[string][]byte{}, versions: map[string][]api.FileVersion{},
		changes: map[string][]api.Change{}, hits: map[string]int{}, gets: map[string]int{}, key: key}
	mux := http.NewServeMux()
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.hits[pattern]++
			if g.revoked {
				e := api.Error{Code: api.CodeRevoked, Message: "access revoked"}
				if n := r.Header.Get(api.HeaderRevocationNonce); n != "" && g.statementsFor != "" {
					now := time.Now()
					e.Revocation = &api.Revocation{Entity: g.statementsFor, Nonce: n, Time: now,
						Signature: ed25519.Sign(g.key, api.RevocationMessage(g.statementsFor, n, now))}
				}
				g.json(w, http.StatusForbidden, e)
				return
			}
			h(w, r)
		})
	}
	route("GET /v1/matters", func(w http.ResponseWriter, r *http.Request) {
		g.json(w, http.StatusOK, api.WhoAmI{Entity: "e", User: "u", Matters: slices.Clone(g.matters)})
	})
	route("GET /v1/matters/{m}/changes", func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		var out api.Changes
		for _, c := range g.changes[r.PathValue("m")] {
			if c.Seq > since {
				out.Changes = append(out.Changes, c)
			}
		}
		out.Head = g.seq
		g.json(w, http.StatusOK, out)
	})
	// The signed head an honest gateway serves (no audit checkpoints
	// here): agents with gateway.public_key require it.
	route("GET /v1/matters/{m}/head", func(w http.ResponseWriter, r *http.Request) {
		h := api.MatterHead{Matter: r.PathValue("m"), Seq: g.seq, Time: time.Now().UTC(), Path: []audit.Checkpoint{}}
		if n, err := strconv.ParseInt(r.URL.Query().Get("seq"), 10, 64); err == nil && n > 0 {
			for _, c := range g.changes[h.Matter] {
				if c.Seq == n {
					h.At = &c
				}
			}
		}
		h.Signature = ed25519.Sign(g.key, api.HeadMessage(&h))
		g.json(w, http.StatusOK, h)
	})
	route("GET /v1/matters/{m}/files/{f}", func(w http.ResponseWriter, r *http.Request) {
		vs := g.versions[r.PathValue("f")]
		if len(vs) == 0 {
			g.fail(w, http.StatusNotFound, api.CodeNotFound, "no such file")
			return
		}
		v := vs[len(vs)-1]
		if q := r.URL.Query().Get("version"); q != "" {
			n, _ := strconv.ParseInt(q, 10, 64)
			if n < 1 || n > int64(len(vs)) {
				g.fail(w, http.StatusNotFound, api.CodeNotFound, "no such version")
				return
			}
			v = vs[n-1]
		}
		if g.tamper != nil {
			g.tamper(&v)
		}
		g.json(w, http.StatusOK, v)
	})
	route("GET /v1/matters/{m}/files/{f}/versions", func(w http.ResponseWriter, r *http.Request) {
		out := api.Versions{FileID: r.PathValue("f")}
		vs := g.versions[r.PathValue("f")]
		for i := len(vs) - 1; i >= 0; i-- {
			v := vs[i]
			v.Manifest = nil
			out.Versions = append(out.Versions, v)
		}
		g.json(w, http.StatusOK, out)
	})
	route("GET /v1/matters/{m}/chunks/{c}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := g.chunks[r.PathValue("c")]
		g.gets[r.PathValue("c")]++
		if !ok || g.chunkBudget < 0 {
			g.fail(w, http.StatusNotFound, api.CodeNotFound, "no such chunk")
			return
		}
		if g.chunkBudget > 0 {
			if g.chunkBudget--; g.chunkBudget == 0 {
				g.chunkBudget = -1
			}
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})
	route("POST /v1/matters/{m}/chunks/missing", func(w http.ResponseWriter, r *http.Request) {
		var in api.MissingRequest
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			g.fail(w, http.StatusBadRequest, api.CodeInvalidRequest, err.Error())
			return
		}
		out := api.MissingResponse{Missing: []string{}}
		for _, id := range in.IDs {
			if _, ok := g.chunks[id]; !ok {
				out.Missing = append(out.Missing, id)
			}
		}
		g.json(w, http.StatusOK, out)
	})
	route("PUT /v1/matters/{m}/chunks/{c}", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		g.chunks[r.PathValue("c")] = b.Bytes()
		g.json(w, http.StatusCreated, api.ChunkPut{ID: r.PathValue("c"), Size: int64(b.Len()), Created: true})
	})
	commit := func(w http.ResponseWriter, r *http.Request) {
		var in api.CommitRequest
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			g.fail(w, http.StatusBadRequest, api.CodeInvalidRequest, err.Error())
			return
		}
		m, f := r.PathValue("m"), r.PathValue("f")
		base := int64(0)
		if v, ok := api.ParseETag(r.Header.Get("If-Match")); ok {
			base = v
		}
		if cur := int64(len(g.versions[f])); cur != base {
			g.json(w, http.StatusPreconditionFailed, api.Error{Code: api.CodeVersionMismatch, Message: "moved", CurrentVersion: &cur})
			return
		}
		c := g.store(m, f, in.Manifest, r.Method == http.MethodDelete)
		status := http.StatusCreated
		if r.Method == http.MethodDelete {
			status = http.StatusOK
		}
		g.json(w, status, c)
	}
	route("PUT /v1/matters/{m}/files/{f}", commit)
	route("DELETE /v1/matters/{m}/files/{f}", commit)
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGateway) URL() string { return g.srv.URL }

// store records a sealed manifest as the file's next version; the caller
// holds mu.
func (g *fakeGateway) store(matter, fileID string, sealed []byte, deleted bool) api.Commit {
	h, err := format.ParseHeader(sealed)
	if err != nil {
		g.t.Errorf("fake gateway: manifest header: %v", err)
	}
	g.seq++
	v := api.FileVersion{FileID: fileID, Version: int64(len(g.versions[fileID]) + 1), Seq: g.seq, Deleted: deleted,
		Size: int64(len(sealed)), Epoch: h.Epoch, Time: time.Now(), Manifest: sealed}
	g.versions[fileID] = append(g.versions[fileID], v)
	g.changes[matter] = append(g.changes[matter], api.Change{Seq: g.seq, FileID: fileID, Version: v.Version, Deleted: deleted})
	return api.Commit{FileID: fileID, Version: v.Version, Seq: v.Seq, Deleted: deleted}
}

// commit publishes a sealed manifest (a tombstone if deleted) as the next
// version of its file.
func (g *fakeGateway) commit(matter string, fileID format.ID, sealed []byte, deleted bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.store(matter, fileID.String(), sealed, deleted)
}

// putChunk stores a sealed chunk.
func (g *fakeGateway) putChunk(id format.ID, sealed []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.chunks[id.String()] = sealed
}

func (g *fakeGateway) setMatters(ms ...api.Matter) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.matters = ms
}

func (g *fakeGateway) setRevoked(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.revoked = on
}

// signStatements makes the gateway sign revocation statements for entity
// with its key, as the real gateway does for a token of a revoked entity.
func (g *fakeGateway) signStatements(entity string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.statementsFor = entity
}

// publicKeyPEM is the gateway's public key, for gateway.public_key.
func (g *fakeGateway) publicKeyPEM() string {
	der, err := x509.MarshalPKIXPublicKey(g.key.Public())
	if err != nil {
		g.t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (g *fakeGateway) setTamper(f func(*api.FileVersion)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tamper = f
}

func (g *fakeGateway) setChunkBudget(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.chunkBudget = n
}

// hit returns how often a route (its mux pattern) was asked.
func (g *fakeGateway) hit(pattern string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hits[pattern]
}

// downloads returns how often a chunk was asked for.
func (g *fakeGateway) downloads(id format.ID) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gets[id.String()]
}

func (g *fakeGateway) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (g *fakeGateway) fail(w http.ResponseWriter, status int, code api.Code, msg string) {
	g.json(w, status, api.Error{Code: code, Message: msg})
}

// sum is the SHA-256 of b as an array.
func sum(b []byte) [32]byte { return sha256.Sum256(b) }
