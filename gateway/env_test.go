package gateway_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is one gateway (or several replicas) on real MinIO and a real store,
// with tokens from a local issuer.
type env struct {
	t      *testing.T
	issuer *authtest.Issuer
	minio  *minio.Client
	bucket string
	store  gateway.Stores
	db     io.Closer // *sqlite.Store or *postgres.Store
	key    ed25519.PrivateKey
	srv    *gateway.Server
	url    string
	ops    string // the operational endpoints (OpsHandler)
	cfg    gateway.Config
	sealer *gatewaytest.Sealer
}

type envOpts struct {
	postgresDSN string // "" = SQLite in a temp dir
	bucket      string // "" = a new bucket
	issuer      *authtest.Issuer
	sealer      *gatewaytest.Sealer
	key         ed25519.PrivateKey
	verifier    gateway.Verifier
	tune        func(*gateway.Config)
	logs        io.Writer // the gateway's JSON log (default: discarded)
	wrapBlobs   func(gateway.Blobs) gateway.Blobs
	anchors     []gateway.Anchor // copies of checkpoints outside the database
	reuse       io.Closer        // this open store (another env's), not closed by this env
}

func testConfig() gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.Listen, cfg.InsecureDev = "127.0.0.1:0", true
	cfg.Limits.MaxChunkBytes = 1 << 20
	cfg.Limits.MaxCommitBytes = 256 << 10
	cfg.Limits.MaxBatchIDs = 2000
	cfg.Limits.MaxWait = 20 * time.Second
	cfg.Limits.PollInterval = 50 * time.Millisecond
	cfg.Limits.RequestsPerSecond, cfg.Limits.Burst = 1e6, 1e6
	cfg.Limits.UnauthenticatedPerSecond, cfg.Limits.UnauthenticatedBurst = 1e6, 1e6
	cfg.Audit.CheckpointInterval = time.Hour
	cfg.Audit.RefusalSummaryInterval = 100 * time.Millisecond
	cfg.Audit.RefusalRecordsPerSecond = 1e6
	// One clock: a token of the second after a reissue stamp is fresh.
	cfg.Vault.ReissueLeeway = 0
	// env.do sends each request from its own client address (through
	// X-Forwarded-For), so refusals before authentication are each
	// audited; flood tests send theirs from one address.
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	return cfg
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	m := testenv.MinIO(t)
	e := &env{t: t, issuer: o.issuer, minio: m.Client(t), bucket: o.bucket, key: o.key, cfg: testConfig(), sealer: o.sealer}
	if e.sealer == nil {
		e.sealer = gatewaytest.NewSealer(t)
	}
	if o.tune != nil {
		o.tune(&e.cfg)
	}
	if e.bucket == "" {
		e.bucket = m.Bucket(t)
	}
	if e.issuer == nil {
		e.issuer = authtest.New(t)
	}
	if e.key == nil {
		_, e.key, _ = ed25519.GenerateKey(rand.Reader)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var err error
	switch {
	case o.reuse != nil:
		e.db = o.reuse
	case o.postgresDSN != "":
		e.db, err = postgres.Open(ctx, o.postgresDSN, postgres.Options{MaxConns: 16})
	default:
		e.db, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "gateway.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	e.store = gateway.StoresOf(e.db)
	blobs, err := blob.New(blob.Config{Endpoint: m.Endpoint, Bucket: e.bucket, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	v := o.verifier
	if v == nil {
		v, err = auth.NewVerifier(ctx, auth.Config{JWKSURL: e.issuer.URL, Issuer: e.issuer.Issuer, Audience: authtest.Audience})
		if err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if o.logs != nil {
		logger = slog.New(slog.NewJSONHandler(o.logs, nil))
	} else if testing.Verbose() && os.Getenv("GATEWAY_TEST_LOG") != "" {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	var bl gateway.Blobs = blobs
	if o.wrapBlobs != nil {
		bl = o.wrapBlobs(blobs)
	}
	e.srv, err = gateway.New(ctx, e.cfg, gateway.Deps{Stores: e.store, Blobs: bl, Verifier: v, SigningKey: e.key, Anchors: o.anchors, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { e.srv.Run(ctx); close(done) }()
	// The servers main runs (their slow-client timeouts included).
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = e.srv.HTTPServer(nil)
	hs.Start()
	e.url = hs.URL
	ops := httptest.NewUnstartedServer(nil)
	ops.Config = e.srv.OpsHTTPServer(nil)
	ops.Start()
	e.ops = ops.URL
	t.Cleanup(func() {
		hs.Close()
		ops.Close()
		cancel()
		<-done
		if o.reuse == nil {
			e.db.Close()
		}
	})
	return e
}

// token returns a valid token for entity with groups.
func (e *env) token(entity string, groups ...string) string {
	return e.issuer.Token(e.t, authtest.Claims{Subject: entity, Username: "user-" + entity, Groups: groups})
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) apiError(t *testing.T) api.Error {
	t.Helper()
	var e api.Error
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return e
}

// opsGet sends GET path to the operational endpoints.
func (e *env) opsGet(path string) resp {
	e.t.Helper()
	res, err := http.Get(e.ops + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// do sends one request. hdr holds extra headers ("Authorization" is set
// from token when non-empty).
func (e *env) do(method, path, token string, hdr map[string]string, body []byte) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set(api.HeaderDevice, "TEST-DEVICE")
	n := sourceCounter.Add(1)
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.18.%d.%d", (n>>8)&0xff, n&0xff))
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// sourceCounter numbers the client addresses env.do claims.
var sourceCounter atomic.Uint32

func randomID(t testing.TB) format.ID {
	var id format.ID
	rand.Read(id[:])
	return id
}

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// chunk seals a random chunk of size plaintext bytes for matter.
func (e *env) chunk(matter string, size int) (format.ID, []byte) {
	e.t.Helper()
	return e.sealer.Chunk(e.t, matter, size)
}

// putChunk uploads a random sealed chunk and returns its ID.
func (e *env) putChunk(matter, token string, size int) (format.ID, []byte) {
	e.t.Helper()
	id, body := e.chunk(matter, size)
	r := e.do("PUT", "/v1/matters/"+matter+"/chunks/"+id.String(), token, map[string]string{api.HeaderChecksum: sumHex(body)}, body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("put chunk: %d %s", r.status, r.body)
	}
	return id, body
}

// newFile returns the file ID of a new random path in matter.
func (e *env) newFile(matter string) format.ID { return e.sealer.NewFile(e.t, matter) }

// manifest seals a manifest of file (from newFile) as version.
func (e *env) manifest(matter string, file format.ID, version int64, chunks ...format.ID) []byte {
	e.t.Helper()
	return e.sealer.ManifestOf(e.t, matter, file, uint64(version), chunks...)
}

// commitBody is a commit request for version of file, listing chunks.
func (e *env) commitBody(matter string, file format.ID, version int64, chunks ...format.ID) []byte {
	e.t.Helper()
	return rawCommitBody(e.t, e.manifest(matter, file, version, chunks...), chunks...)
}

func rawCommitBody(t testing.TB, manifest []byte, chunks ...format.ID) []byte {
	req := api.CommitRequest{Manifest: manifest, Chunks: []string{}}
	for _, c := range chunks {
		req.Chunks = append(req.Chunks, c.String())
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tombstoneBody is a delete request: the sealed tombstone that makes
// version of file (from newFile).
func (e *env) tombstoneBody(matter string, file format.ID, version int64) []byte {
	e.t.Helper()
	return rawCommitBody(e.t, e.sealer.TombstoneOf(e.t, matter, file, uint64(version)))
}

// del deletes file on top of version base and fails the test otherwise.
func (e *env) del(matter, token string, file format.ID, base int64) api.Commit {
	e.t.Helper()
	r := e.do("DELETE", "/v1/matters/"+matter+"/files/"+file.String(), token, map[string]string{"If-Match": api.ETag(base)}, e.tombstoneBody(matter, file, base+1))
	if r.status != http.StatusOK {
		e.t.Fatalf("delete: %d %s", r.status, r.body)
	}
	var c api.Commit
	json.Unmarshal(r.body, &c)
	return c
}

// commit creates version base+1 of file and fails the test otherwise.
func (e *env) commit(matter, token string, file format.ID, base int64, chunks ...format.ID) api.Commit {
	e.t.Helper()
	hdr := map[string]string{"If-None-Match": "*"}
	if base > 0 {
		hdr = map[string]string{"If-Match": api.ETag(base)}
	}
	r := e.do("PUT", "/v1/matters/"+matter+"/files/"+file.String(), token, hdr, e.commitBody(matter, file, base+1, chunks...))
	if r.status != http.StatusCreated {
		e.t.Fatalf("commit: %d %s", r.status, r.body)
	}
	var c api.Commit
	json.Unmarshal(r.body, &c)
	return c
}

// record returns the audit record of a request by its ID.
func (e *env) record(requestID string) *audit.Record {
	e.t.Helper()
	var found *audit.Record
	err := e.store.Audit.AuditRecords(context.Background(), audit.Query{}, func(r *audit.Record) error {
		if r.RequestID == requestID {
			c := *r
			found = &c
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return found
}

// snapshot captures everything a request could change, except the audit
// log: every object in the bucket and the store's state for the matters.
type snapshot struct {
	Objects  []string
	Usage    map[string]store.Usage
	Counters store.Counters
	Deny     []store.DenyEntry
	Holds    map[string]bool
}

func (e *env) snapshot(matters ...string) snapshot {
	e.t.Helper()
	ctx := context.Background()
	s := snapshot{Usage: map[string]store.Usage{}, Holds: map[string]bool{}}
	for o := range e.minio.ListObjects(ctx, e.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			e.t.Fatal(o.Err)
		}
		s.Objects = append(s.Objects, o.Key+" "+o.ETag)
	}
	for u := range e.minio.ListIncompleteUploads(ctx, e.bucket, "", true) {
		s.Objects = append(s.Objects, "incomplete "+u.Key)
	}
	sort.Strings(s.Objects)
	for _, m := range matters {
		u, err := e.store.Usage.Usage(ctx, m)
		if err != nil {
			e.t.Fatal(err)
		}
		s.Usage[m] = u
		h, err := e.store.Holds.Hold(ctx, m)
		if err != nil {
			e.t.Fatal(err)
		}
		s.Holds[m] = h.On
	}
	var err error
	if s.Counters, err = e.store.Deny.Counters(ctx); err != nil {
		e.t.Fatal(err)
	}
	if s.Deny, _, err = e.store.Deny.DenyList(ctx); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func equalSnap(a, b snapshot) bool { return reflect.DeepEqual(a, b) }
