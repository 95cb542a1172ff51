package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/web"
)

const vectorDir = "../format/testdata/vectors"

// vectorFile is what the test needs of a vector file (format/vectors_test.go
// has the full type).
type vectorFile struct {
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Matter    string          `json:"matter"`
	Epoch1Key string          `json:"epoch1_key"`
	Outcome   string          `json:"outcome"`
	Plaintext string          `json:"plaintext"`
	Manifest  json.RawMessage `json:"manifest"`
	Derived   json.RawMessage `json:"derived"`
	Chunker   *chunkerResult  `json:"chunker"`
}

type chunkerResult struct {
	InputSHA256  string `json:"input_sha256"`
	ChunkLengths []int  `json:"chunk_lengths"`
}

// jsResult is what web/testdata/run.js reports for one vector: the outcome
// (ok or the error's kind) and what it decoded; the test judges it.
type jsResult struct {
	File      string          `json:"file"`
	Outcome   string          `json:"outcome"`
	Error     string          `json:"error"`
	Plaintext string          `json:"plaintext"`
	Manifest  json.RawMessage `json:"manifest"`
	Derived   json.RawMessage `json:"derived"`
	Chunker   *chunkerResult  `json:"chunker"`
}

// page serves the console's assets through the console handler (so they run
// under its Content-Security-Policy), the test page from testdata and the
// format's vectors, and opens the test page in headless Chromium.
type page struct {
	ctx     context.Context
	base    string // the test server's URL
	mu      sync.Mutex
	console []string          // console messages and exceptions of the page
	gen     map[string][]byte // objects served under /gen/
}

func openPage(t *testing.T) *page {
	t.Helper()
	chromium := testenv.DebianTool(t, "chromium")
	c, err := web.New(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	csp := web.CSP("")
	p := &page{gen: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.Handle(web.Prefix, c)
	mux.HandleFunc("/test/", func(w http.ResponseWriter, r *http.Request) {
		web.SetHeaders(w.Header(), csp, false)
		name := strings.TrimPrefix(r.URL.Path, "/test/")
		b, err := os.ReadFile(filepath.Join("testdata", filepath.Base(name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(name, ".js") {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		w.Write(b)
	})
	mux.HandleFunc("/gen/", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		b, ok := p.gen[strings.TrimPrefix(r.URL.Path, "/gen/")]
		p.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
	})
	mux.HandleFunc("/vectors/", func(w http.ResponseWriter, r *http.Request) {
		web.SetHeaders(w.Header(), csp, false)
		w.Header().Set("Content-Type", "application/json")
		name := strings.TrimPrefix(r.URL.Path, "/vectors/")
		if name == "" {
			json.NewEncoder(w).Encode(vectorNames(t))
			return
		}
		b, err := os.ReadFile(filepath.Join(vectorDir, filepath.Base(name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	p.ctx, p.base = ctx, srv.URL
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m.String())
			p.mu.Unlock()
		}
	}()
	url := srv.URL + "/test/vectors.html?assets=" + web.Prefix + c.Version() + "/"
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s in Chromium: %v", url, err)
	}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, m := range p.console {
			if strings.Contains(m, "Content Security Policy") {
				t.Errorf("the page broke its CSP: %s", m)
			}
		}
		if t.Failed() {
			t.Logf("page console:\n%s", strings.Join(p.console, "\n"))
		}
	})
	return p
}

// serve makes the page's server answer /gen/name with b.
func (p *page) serve(name string, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen[name] = b
}

// eval evaluates expr in the page, awaiting a promise, into a T.
func eval[T any](t *testing.T, p *page, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Minute) // the chunker vector hashes 48 MiB in JavaScript
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %.80s: %v", expr, err)
	}
	return v
}

func vectorNames(t *testing.T) []string {
	ents, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Error(err)
		return nil
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestVectorsInChromium runs every vector of the format through format.js
// in Chromium: ok vectors must give exactly the expected plaintext,
// manifest, keys or chunk lengths, and every other vector must be refused
// with its outcome.
func TestVectorsInChromium(t *testing.T) {
	p := openPage(t)
	results := eval[[]jsResult](t, p, "runAllVectors()")

	names := vectorNames(t)
	if len(names) < 49 {
		t.Fatalf("%d vector files in %s, want at least the 49 of FORMAT.md", len(names), vectorDir)
	}
	if len(results) != len(names) {
		t.Fatalf("the page checked %d vectors, the directory has %d", len(results), len(names))
	}
	kinds := map[string]int{}
	for i, r := range results {
		if r.File != names[i] {
			t.Fatalf("result %d is for %s, want %s", i, r.File, names[i])
		}
		b, err := os.ReadFile(filepath.Join(vectorDir, r.File))
		if err != nil {
			t.Fatal(err)
		}
		var v vectorFile
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", r.File, err)
		}
		kinds[v.Kind+" "+v.Outcome]++
		if r.Outcome != v.Outcome {
			t.Errorf("%s (%s): got %q, want %q (%s)", r.File, v.Name, r.Outcome, v.Outcome, r.Error)
			continue
		}
		if v.Outcome != "ok" {
			continue
		}
		switch v.Kind {
		case "chunk":
			if r.Plaintext != v.Plaintext {
				t.Errorf("%s: plaintext %.40s…, want %.40s…", r.File, r.Plaintext, v.Plaintext)
			}
		case "manifest":
			sameJSON(t, r.File, r.Manifest, v.Manifest)
		case "keys":
			sameJSON(t, r.File, r.Derived, v.Derived)
		case "chunker":
			if r.Chunker == nil || r.Chunker.InputSHA256 != v.Chunker.InputSHA256 || !slices.Equal(r.Chunker.ChunkLengths, v.Chunker.ChunkLengths) {
				t.Errorf("%s: got %+v, want %+v", r.File, r.Chunker, v.Chunker)
			}
		default:
			t.Errorf("%s: unknown kind %q", r.File, v.Kind)
		}
	}
	t.Logf("%d vectors checked in Chromium: %v", len(results), kinds)
}

func sameJSON(t *testing.T, name string, got, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: result: %v", name, err)
		return
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Errorf("%s: vector: %v", name, err)
		return
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// TestPathRulesInChromium checks that format.js accepts, refuses and
// normalizes paths exactly as Go's format.NormalizePath, and computes the
// same file IDs.
func TestPathRulesInChromium(t *testing.T) {
	paths := []string{
		"Pleadings/Brief.docx", "a", "Kläger/Brief.docx", "Kla\u0308ger/Brief.docx", // NFD → NFC
		"", "/abs", "trailing/", "a//b", "./a", "a/../b", "..", "a/.", "C:/x", `a\b`, "a:b", "a<b", "a>b", `a"b`, "a|b", "a?b", "a*b",
		"dot.", "space ", "ok .x", "tab\tname", "del\x7f", "c1\u0085", "bidi\u202eexe.txt",
		"CON", "con.txt", "Con .doc", "nul", "aux.tar.gz", "prn", "COM1", "com9.x", "COM0", "lpt3", "COM¹", "LPT³.txt", "COM10", "CONIN$", "conout$.log", "CONIN", "console",
		".mattersync", ".MatterSync/trash", "x/.mattersync-tmp-1", ".matter\u200csync", "\ufeff.mattersync", ".mattersyn", "MATTER~1", "matter~12/x", "x/MATTER~1", "MATTER~", "MATTER~1a",
		strings.Repeat("a", 255), strings.Repeat("a", 256), strings.Repeat("é", 127) + "a", strings.Repeat("é", 128),
		strings.Repeat("abcdefgh/", 455) + "a", strings.Repeat("abcdefgh/", 456) + "a",
		"emoji 😀.txt", "\ud7ff", "ﬀ.txt", "ß/ss", "ǅ", "ı.txt", "conın$",
	}
	p := openPage(t)
	arg, _ := json.Marshal(paths)
	type verdict struct {
		OK         bool   `json:"ok"`
		Normalized string `json:"normalized"`
		Kind       string `json:"kind"`
	}
	got := eval[[]verdict](t, p, fmt.Sprintf("checkPaths(%s)", arg))
	if len(got) != len(paths) {
		t.Fatalf("%d verdicts for %d paths", len(got), len(paths))
	}
	var valid []string
	for i, path := range paths {
		n, err := format.NormalizePath(path)
		switch {
		case err == nil && !got[i].OK:
			t.Errorf("%q: Go accepts it as %q, format.js refuses it (%s)", path, n, got[i].Kind)
		case err != nil && got[i].OK:
			t.Errorf("%q: Go refuses it (%v), format.js accepts it as %q", path, err, got[i].Normalized)
		case err == nil && got[i].Normalized != n:
			t.Errorf("%q: Go normalizes to %q, format.js to %q", path, n, got[i].Normalized)
		case err != nil && got[i].Kind != "unsafe path":
			t.Errorf("%q: format.js refuses it as %q, want unsafe path", path, got[i].Kind)
		case err == nil:
			valid = append(valid, path)
		}
	}
	if len(valid) < 15 {
		t.Fatalf("only %d valid paths: the table lost its valid cases", len(valid))
	}

	const matter = "2026-0001"
	key := make([]byte, format.EpochKeySize)
	for i := range key {
		key[i] = byte(i * 7)
	}
	fk, err := format.DeriveFileIDKey(matter, key)
	if err != nil {
		t.Fatal(err)
	}
	arg, _ = json.Marshal(valid)
	ids := eval[[]string](t, p, fmt.Sprintf("fileIDs(%q, %q, %s)", matter, hex.EncodeToString(key), arg))
	for i, path := range valid {
		want, err := fk.FileID(path)
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(ids) || ids[i] != want.String() {
			t.Errorf("file ID of %q: format.js %v, Go %s", path, ids, want)
		}
	}
}

// TestConsolePageInChromium loads the console's index page as the gateway
// serves it: its modules must load under the CSP and say it is ready (here
// without a Vault address: it says so instead of offering a sign-in).
// TestConsole (console_test.go) signs in against the real stack.
func TestConsolePageInChromium(t *testing.T) {
	p := openPage(t)
	if err := chromedp.Do(p.ctx, chromedp.Navigate(p.base+web.Prefix)); err != nil {
		t.Fatal(err)
	}
	got := eval[string](t, p, `new Promise((resolve) => {
		const poll = () => document.documentElement.dataset.consoleReady === 'true'
			? resolve(document.documentElement.dataset.view + ': ' + document.getElementById('app').textContent) : setTimeout(poll, 20);
		poll();
	})`)
	if !strings.HasPrefix(got, "unconfigured: ") || !strings.Contains(got, "does not name a Vault address") {
		t.Fatalf("console page %q", got)
	}
}

// TestSealedByGoInChromium opens in Chromium a 15 MiB file that Go's
// format package sealed as an agent does: real zstd output of the Go
// writer (the vectors hold only hand-built raw and RLE blocks), an 8 MiB
// chunk that decompresses to exactly the limit, raw chunks, and chunks of
// two epochs under one manifest, read chunk by chunk with readFile.
func TestSealedByGoInChromium(t *testing.T) {
	start := time.Now()
	p := openPage(t)
	t.Logf("Chromium up in %v", time.Since(start).Round(time.Millisecond))
	const matter, version = "2026-0042", 3
	rng := mrand.New(mrand.NewPCG(1, 2))
	keys := map[string]string{}
	var ks [3]*format.Keys
	var fk *format.FileIDKey
	for e := uint32(1); e <= 2; e++ {
		raw := make([]byte, format.EpochKeySize)
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		keys[fmt.Sprint(e)] = hex.EncodeToString(raw)
		var err error
		if e == 1 {
			if fk, err = format.DeriveFileIDKey(matter, raw); err != nil {
				t.Fatal(err)
			}
		}
		if ks[e], err = format.DeriveKeys(fk, e, raw); err != nil {
			t.Fatal(err)
		}
	}

	// Text (compresses), random bytes (stored raw), zeros (one 8 MiB chunk).
	var content []byte
	words := strings.Fields("the plaintiff respectfully submits that the court should grant the motion for summary judgment because no genuine dispute of material fact remains")
	for len(content) < 4<<20 {
		content = append(content, words[rng.IntN(len(words))]...)
		content = append(content, ' ')
	}
	random := make([]byte, 2<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	content = append(content, random...)
	content = append(content, make([]byte, 9<<20)...)

	codec, err := format.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close()
	m := &format.Manifest{Path: "Pleadings/Kläger Brief.docx", Version: version, Size: uint64(len(content)), Mode: 0o644,
		ContentHash: sha256.Sum256(content), Author: "entity-1", Device: "LAPTOP-7",
		ModTime: time.Unix(1795000000, 123456789), Created: time.Unix(1795000005, 0)}
	compressed, rawChunks, largest := 0, 0, 0
	c := format.NewChunker(bytes.NewReader(content))
	for i := 0; ; i++ {
		plain, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		k := ks[1+i%2] // chunks of both epochs in one file
		id := k.ChunkID(plain)
		sealed, err := codec.SealChunk(nil, k, id, plain)
		if err != nil {
			t.Fatal(err)
		}
		h, err := format.ParseHeader(sealed)
		if err != nil {
			t.Fatal(err)
		}
		if h.Compressed {
			compressed++
		} else {
			rawChunks++
		}
		largest = max(largest, len(plain))
		p.serve("chunks/"+id.String(), sealed)
		m.Chunks = append(m.Chunks, format.ChunkRef{ID: id, Size: uint32(len(plain))})
	}
	if compressed < 2 || rawChunks < 1 || largest != format.MaxChunkSize {
		t.Fatalf("%d compressed and %d raw chunks, largest %d: the file no longer covers what it should", compressed, rawChunks, largest)
	}
	sealed, fileID, err := ks[2].SealManifest(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	p.serve("manifest", sealed)
	arg, _ := json.Marshal(map[string]any{"matter": matter, "epoch_keys": keys, "file_id": fileID.String(), "version": version})

	type readResult struct {
		Path            string `json:"path"`
		Size            int    `json:"size"`
		Chunks          int    `json:"chunks"`
		SHA256          string `json:"sha256"`
		ContentHash     string `json:"content_hash"`
		ChunkListSHA256 string `json:"chunk_list_sha256"`
	}
	start = time.Now()
	got := eval[readResult](t, p, fmt.Sprintf("readGenerated(%s)", arg))
	t.Logf("format.js read the file in %v", time.Since(start).Round(time.Millisecond))
	list := sha256.New()
	for _, ch := range m.Chunks {
		list.Write(ch.ID[:])
	}
	sum := hex.EncodeToString(m.ContentHash[:])
	want := readResult{Path: m.Path, Size: len(content), Chunks: len(m.Chunks), SHA256: sum, ContentHash: sum,
		ChunkListSHA256: hex.EncodeToString(list.Sum(nil))}
	if got != want {
		t.Fatalf("format.js read\n %+v\nwant\n %+v", got, want)
	}
	t.Logf("read %d bytes in %d chunks (%d compressed, %d raw) of two epochs", len(content), len(m.Chunks), compressed, rawChunks)
}
