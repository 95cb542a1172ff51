package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
)

// Issue 19, "Reads take no memory budget": a read-only member's parallel
// reads of file versions held each manifest and its base64 copy in memory,
// outside the in-flight budget uploads wait for (48 reads peaked at
// 1.67 GB). A read now takes its share of max_inflight_bytes while it
// sends: with the budget held by one read, the next one is refused 503.
func TestGWStoreReadsTakeTheInflightBudget(t *testing.T) {
	blobs := &gwsBlobs{}
	w := newGWSWorld(t, gatewaytest.Options{
		WrapBlobs: func(b gateway.Blobs) gateway.Blobs { blobs.Blobs = b; return blobs },
		Config: func(c *gateway.Config) {
			// Room for one read's buffers (64 KiB) at a time.
			c.Limits.MaxChunkBytes, c.Limits.MaxCommitBytes = 16<<10, 16<<10
			c.Limits.MaxInflightBytes = 64 << 10
			c.Limits.InflightWait = 100 * time.Millisecond
		},
	})
	file, _, manifest := w.commit(t, 1000)
	entered, release := make(chan struct{}), make(chan struct{})
	blobs.set(func(ctx context.Context, key string) (io.ReadCloser, int64, error, bool) {
		if !isManifestKey(key) {
			return nil, 0, nil, false
		}
		blobs.set(nil) // the first read only
		close(entered)
		<-release
		return nil, 0, nil, false
	})
	ctx := context.Background()
	r := w.reader(t, "ent-reader")
	first := make(chan error, 1)
	var got api.FileVersion
	go func() {
		var err error
		got, err = r.File(ctx, gwsMatter, file.String(), 1)
		first <- err
	}()
	<-entered
	_, err := r.File(ctx, gwsMatter, file.String(), 1)
	close(release)
	if client.Code(err) != api.CodeUnavailable {
		t.Errorf("a read while another held the whole in-flight budget: %v, want %s", err, api.CodeUnavailable)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first read: %v", err)
	}
	if !bytes.Equal(got.Manifest, manifest) || got.Version != 1 || got.Size != int64(len(manifest)) {
		t.Fatalf("the streamed version does not decode to what was committed: %+v", got)
	}
}

// The manifest is streamed: one read of a 32 MiB manifest allocates far
// less than the manifest (it used to read it whole, then marshal a base64
// copy). The stored object is a stand-in of zeros, served by the blob
// store without allocating, with the version's recorded size to match.
func TestGWStoreManifestStreamed(t *testing.T) {
	const size = 32 << 20
	blobs := &gwsBlobs{}
	w := newGWSWorld(t, gatewaytest.Options{WrapBlobs: func(b gateway.Blobs) gateway.Blobs { blobs.Blobs = b; return blobs }})
	file, _, _ := w.commit(t, 1000)
	db := w.g.Engine.(*sqlite.Store).DB()
	if _, err := db.Exec(`UPDATE versions SET size = ? WHERE version = 1`, size); err != nil {
		t.Fatal(err)
	}
	blobs.set(func(ctx context.Context, key string) (io.ReadCloser, int64, error, bool) {
		if !isManifestKey(key) {
			return nil, 0, nil, false
		}
		return io.NopCloser(io.LimitReader(zeros{}, size)), size, nil, true
	})
	req, _ := http.NewRequest("GET", w.g.URL+"/v1/matters/"+gwsMatter+"/files/"+file.String()+"?version=1", nil)
	req.Header.Set("Authorization", "Bearer "+w.g.Token(t, "ent-reader", "matter-"+gwsMatter+"-ro"))
	req.Header.Set(api.HeaderDevice, "READER-PC")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := w.g.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tail bytes.Buffer
	n, err := io.Copy(io.Discard, io.TeeReader(res.Body, tailWriter{&tail, 64}))
	res.Body.Close()
	runtime.ReadMemStats(&after)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("read: %d, %v", res.StatusCode, err)
	}
	if cl, _ := strconv.ParseInt(res.Header.Get("Content-Length"), 10, 64); cl != n {
		t.Fatalf("Content-Length %d, body %d bytes", cl, n)
	}
	if !bytes.HasSuffix(tail.Bytes(), []byte("AAA=\"}\n")) {
		t.Fatalf("the body does not end as a base64 manifest and the object: %q", tail.String())
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("one read of a %d MiB manifest allocated %.1f MiB", size>>20, float64(alloc)/(1<<20))
	if alloc > size/4 {
		t.Fatalf("one read of a %d MiB manifest allocated %d MiB: the manifest is held in memory", size>>20, alloc>>20)
	}
}

// A streamed version still decodes as the JSON the gateway always sent.
func TestGWStoreStreamedVersionIsJSON(t *testing.T) {
	w := newGWSWorld(t, gatewaytest.Options{})
	file, _, manifest := w.commit(t, 1000)
	_, body := send(t, w.g, "GET", "/v1/matters/"+gwsMatter+"/files/"+file.String(),
		map[string]string{"Authorization": "Bearer " + w.g.Token(t, "ent-reader", "matter-"+gwsMatter+"-ro"), api.HeaderDevice: "READER-PC"})
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	var fv api.FileVersion
	if err := dec.Decode(&fv); err != nil || !bytes.Equal(fv.Manifest, manifest) || fv.FileID != file.String() {
		t.Fatalf("decode %q: %v, %+v", body[:min(len(body), 200)], err, fv)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// tailWriter keeps the last n bytes written to b.
type tailWriter struct {
	b *bytes.Buffer
	n int
}

func (w tailWriter) Write(p []byte) (int, error) {
	w.b.Write(p)
	if w.b.Len() > w.n {
		keep := append([]byte(nil), w.b.Bytes()[w.b.Len()-w.n:]...)
		w.b.Reset()
		w.b.Write(keep)
	}
	return len(p), nil
}
