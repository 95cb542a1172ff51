package agent_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mattersync/mattersync/agent/agenttest"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/kms"
)

// Small files go to the gateway in batches: hundreds of files in a few
// requests, one audit record per file still; files a batch could not
// commit (a colleague's edit first, content a colleague stored already,
// which must be opened before it is committed on) take the single path
// with its conflict handling.
func TestSmallFilesInBatches(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		bob := w.agent(w.member(kms.RoleRW))
		bob.write("Shared.txt", []byte(marker+" bob's version"))
		bob.write("Orig.txt", []byte(marker+" the same attachment"))
		if sum := bob.sync(); sum.Uploaded != 2 {
			w.t.Fatalf("bob uploaded %+v", sum)
		}
		files := map[string][]byte{}
		for i := range 300 {
			files[fmt.Sprintf("Letters/%03d.txt", i)] = []byte(fmt.Sprintf("%s letter %d", marker, i))
		}
		files["Exhibits/Big.bin"] = content(3, 1<<20)
		files["Copy.txt"] = []byte(marker + " the same attachment")
		for rel, b := range files {
			alice.write(rel, b)
		}
		alice.write("Shared.txt", []byte(marker+" alice's version"))
		sum := alice.sync()
		if sum.Uploaded < len(files) || sum.Conflicts != 1 {
			w.t.Fatalf("alice: %+v, want %d uploaded and Shared.txt a conflict", sum, len(files))
		}
		alice.wantFile("Shared.txt", []byte(marker+" bob's version"))
		requests := map[string]bool{}
		commits := 0
		err := w.gw.Stores.Audit.AuditRecords(context.Background(), audit.Query{Matter: w.matter}, func(r *audit.Record) error {
			if r.Action == "file.commit" && r.Result == audit.ResultOK && r.User == alice.user.Name {
				commits++
				requests[r.RequestID] = true
			}
			return nil
		})
		if err != nil {
			w.t.Fatal(err)
		}
		if commits < len(files) || len(requests) > 6 {
			w.t.Fatalf("alice's %d commits came in %d requests, want one record each in a few batches", commits, len(requests))
		}
		if sum := bob.sync(); sum.Downloaded < len(files) {
			w.t.Fatalf("bob downloaded %+v, want %d", sum, len(files))
		}
		for rel, b := range files {
			bob.wantFile(rel, b)
		}
		// Bob's new files were installed in groups (ahead.go): every one
		// recorded, so a second pass does nothing.
		if sum := bob.sync(); sum.Uploaded+sum.Downloaded+sum.Deleted+sum.Conflicts != 0 {
			w.t.Fatalf("bob's second pass did work: %+v", sum)
		}
		tries := 0
		err = w.gw.Stores.Audit.AuditRecords(context.Background(), audit.Query{Matter: w.matter}, func(r *audit.Record) error {
			if r.Action == "file.commit" && r.User == bob.user.Name {
				tries++
			}
			return nil
		})
		if err != nil || tries != 2 {
			w.t.Fatalf("bob tried %d commits (%v), want his 2: a downloaded file without its index row looks like a new local file", tries, err)
		}
	})
}

// TestSmallFilesBatchRateLimited: a gateway whose per-user bucket cannot
// cover two batches at once refuses one 429; the agent sends it again
// after Retry-After, and the pass uploads every file in batches (none
// falls back to one request per file, none is left for a later pass).
func TestSmallFilesBatchRateLimited(t *testing.T) {
	w := setupWorld(t, agenttest.NewFake(t), nil, gatewaytest.Options{Config: func(c *gateway.Config) {
		// A full batch (200 items, 20 to a token) empties the bucket,
		// which takes 5 s to cover the next: far longer than reading
		// the next 100 files.
		c.Limits.RequestsPerSecond, c.Limits.Burst, c.Limits.MaxBatchItems = 2, 10, 100
	}})
	alice := w.agent(w.member(kms.RoleRW))
	const n = 250
	for i := range n {
		alice.write(fmt.Sprintf("Letters/%03d.txt", i), []byte(fmt.Sprintf("%s letter %d", marker, i)))
	}
	if sum := alice.sync(); sum.Uploaded != n {
		w.t.Fatalf("alice: %+v, want %d uploaded in one pass", sum, n)
	}
	requests := map[string]bool{}
	limited := 0
	err := w.gw.Stores.Audit.AuditRecords(context.Background(), audit.Query{Matter: w.matter}, func(r *audit.Record) error {
		switch {
		case r.Action == "file.commit" && r.Result == audit.ResultOK:
			requests[r.RequestID] = true
		case r.Action == "file.batch" && r.Status == 429:
			limited++
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	if limited == 0 || len(requests) > 3 {
		w.t.Fatalf("%d batches refused 429, commits in %d requests; want some refused and all %d files in 3 batches", limited, len(requests), n)
	}
}
