package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/gateway/store/storetest"
	"github.com/mattersync/mattersync/internal/testenv"
)

// TestTwoReplicas runs two gateways on one PostgreSQL database and one
// bucket, like two replicas behind a load balancer.
func TestTwoReplicas(t *testing.T) {
	dsn := testenv.Postgres(t)
	a := newEnv(t, envOpts{postgresDSN: dsn})
	b := newEnv(t, envOpts{postgresDSN: dsn, bucket: a.bucket, issuer: a.issuer, key: a.key, sealer: a.sealer})
	tok := a.token("ent-1", "matter-m-rw")
	admin := a.token("ent-admin", "mattersync-admins")
	replicas := []*env{a, b}

	t.Run("concurrent commits to one file", func(t *testing.T) {
		f := a.newFile("m")
		a.commit("m", tok, f, 0)
		var lastWinner []byte
		for round := range 15 {
			base := int64(round + 1)
			statuses := make([]int, 2)
			manifests := [][]byte{a.manifest("m", f, base+1), a.manifest("m", f, base+1)}
			var wg sync.WaitGroup
			for i, r := range replicas {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res := r.do("PUT", "/v1/matters/m/files/"+f.String(), tok, map[string]string{"If-Match": api.ETag(base)},
						rawCommitBody(t, manifests[i]))
					statuses[i] = res.status
					if res.status == http.StatusPreconditionFailed {
						if e := res.apiError(t); e.CurrentVersion == nil || *e.CurrentVersion != base+1 || res.header.Get("ETag") != api.ETag(base+1) {
							t.Errorf("412 body %s, ETag %q: want current version %d", res.body, res.header.Get("ETag"), base+1)
						}
					}
				}()
			}
			wg.Wait()
			if !(statuses[0] == 201 && statuses[1] == 412 || statuses[0] == 412 && statuses[1] == 201) {
				t.Fatalf("round %d: statuses %v, want one 201 and one 412", round, statuses)
			}
			lastWinner = manifests[0]
			if statuses[1] == 201 {
				lastWinner = manifests[1]
			}
		}
		// Whichever replica answers, the stored manifest is the winner's.
		for _, r := range replicas {
			var fv api.FileVersion
			json.Unmarshal(r.do("GET", "/v1/matters/m/files/"+f.String(), tok, nil, nil).body, &fv)
			if fv.Version != 16 || !bytes.Equal(fv.Manifest, lastWinner) {
				t.Fatalf("head = v%d, manifest is not the last winner's", fv.Version)
			}
		}
	})

	t.Run("gapless sequence numbers", func(t *testing.T) {
		var mu sync.Mutex
		var seqs []int64
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := replicas[i%2].commit("g", a.token("ent-1", "matter-g-rw"), a.newFile("g"), 0)
				mu.Lock()
				seqs = append(seqs, c.Seq)
				mu.Unlock()
			}()
		}
		wg.Wait()
		storetest.CheckGapless(t, seqs)
		var ch api.Changes
		json.Unmarshal(b.do("GET", "/v1/matters/g/changes?since=0", a.token("ent-1", "matter-g-rw"), nil, nil).body, &ch)
		if len(ch.Changes) != 30 || ch.Head != 30 {
			t.Fatalf("feed on the other replica: %d changes, head %d", len(ch.Changes), ch.Head)
		}
	})

	t.Run("long poll wakes on the other replica's commit", func(t *testing.T) {
		var ch api.Changes
		var head api.Changes
		json.Unmarshal(b.do("GET", "/v1/matters/m/changes?since=0", tok, nil, nil).body, &head)
		done := make(chan resp)
		go func() {
			done <- b.do("GET", "/v1/matters/m/changes?since="+itoa(head.Head)+"&wait=20s", tok, nil, nil)
		}()
		time.Sleep(100 * time.Millisecond) // let the poll start; correctness does not depend on it
		c := a.commit("m", tok, a.newFile("m"), 0)
		r := <-done
		json.Unmarshal(r.body, &ch)
		if r.status != 200 || len(ch.Changes) != 1 || ch.Changes[0].Seq != c.Seq {
			t.Fatalf("long poll answered %d %s, want the commit with seq %d", r.status, r.body, c.Seq)
		}
	})

	t.Run("deny list propagates", func(t *testing.T) {
		victim := a.token("ent-leaver", "matter-m-rw")
		if r := b.do("GET", "/v1/matters", victim, nil, nil); r.status != 200 {
			t.Fatalf("before deny: %d", r.status)
		}
		start := time.Now()
		if r := a.do("POST", "/v1/admin/deny", admin, nil, []byte(`{"entity_id":"ent-leaver","name":"leaver","reason":"left"}`)); r.status != 201 {
			t.Fatalf("deny: %d %s", r.status, r.body)
		}
		// The replica that took the entry refuses at once.
		if r := a.do("GET", "/v1/matters", victim, nil, nil); r.status != 403 || r.apiError(t).Code != api.CodeRevoked {
			t.Fatalf("replica a after deny: %d %s", r.status, r.body)
		}
		// The other replica within its poll interval; the bound checked
		// here is generous, the documented one is deny_max_staleness.
		for {
			r := b.do("GET", "/v1/matters", victim, nil, nil)
			if r.status == 403 && r.apiError(t).Code == api.CodeRevoked {
				break
			}
			if time.Since(start) > 15*time.Second {
				t.Fatalf("replica b still answers %d after %v", r.status, time.Since(start))
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("replica b refused the denied entity %v after the deny (poll interval %v)", time.Since(start).Round(time.Millisecond), b.cfg.Limits.PollInterval)
		if r := b.do("DELETE", "/v1/admin/deny/ent-leaver", admin, nil, nil); r.status != 204 {
			t.Fatalf("undeny: %d %s", r.status, r.body)
		}
		for a.do("GET", "/v1/matters", victim, nil, nil).status != 200 {
			if time.Since(start) > 30*time.Second {
				t.Fatal("replica a never saw the removal")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("one audit chain", func(t *testing.T) {
		for _, r := range replicas {
			if err := r.srv.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := audit.Verify(context.Background(), a.store.Audit, nil, audit.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK {
			t.Fatal("verified without trusting any key")
		}
		var vr audit.Report
		r := b.do("POST", "/v1/admin/audit/verify", admin, nil, nil)
		json.Unmarshal(r.body, &vr)
		if r.status != 200 || !vr.OK || vr.Records < 60 || vr.Checkpoints < 1 {
			t.Fatalf("verify via replica b: %d %s", r.status, r.body)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestAuditFailClosed breaks audit appends in the database: every request
// is then refused with 503 and changes nothing.
func TestAuditFailClosed(t *testing.T) {
	e := newEnv(t, envOpts{})
	tok := e.token("ent-1", "matter-a-rw", "mattersync-admins")
	c, _ := e.putChunk("a", tok, 100)
	f := e.newFile("a")
	e.commit("a", tok, f, 0, c)
	if _, err := e.db.(*sqlite.Store).DB().Exec(`CREATE TRIGGER audit_broken BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot("a")
	newChunk, body := e.chunk("a", 50)
	reqs := []struct {
		name         string
		method, path string
		hdr          map[string]string
		body         []byte
	}{
		{"list", "GET", "/v1/matters", nil, nil},
		{"read chunk", "GET", "/v1/matters/a/chunks/" + c.String(), nil, nil},
		{"write chunk", "PUT", "/v1/matters/a/chunks/" + newChunk.String(), map[string]string{api.HeaderChecksum: sumHex(body)}, body},
		{"commit", "PUT", "/v1/matters/a/files/" + f.String(), map[string]string{"If-Match": `"1"`}, e.commitBody("a", f, 2, c)},
		{"delete", "DELETE", "/v1/matters/a/files/" + f.String(), map[string]string{"If-Match": `"1"`}, e.tombstoneBody("a", f, 2)},
		{"read file", "GET", "/v1/matters/a/files/" + f.String(), nil, nil},
		{"hold", "PUT", "/v1/admin/matters/a/hold", nil, []byte(`{"reason":"x"}`)},
		{"deny", "POST", "/v1/admin/deny", nil, []byte(`{"entity_id":"e2"}`)},
		{"refused anyway", "GET", "/v1/matters/A/changes", nil, nil},
	}
	for _, rq := range reqs {
		r := e.do(rq.method, rq.path, tok, rq.hdr, rq.body)
		if r.status != 503 || r.apiError(t).Code != api.CodeUnavailable {
			t.Errorf("%s: %d %s, want 503 unavailable", rq.name, r.status, r.body)
		}
	}
	after := e.snapshot("a")
	// The chunk PUT reached S3 before its record failed: the object is
	// there but unrecorded, so invisible (and garbage). Nothing else moved.
	before.Objects, after.Objects = nil, nil
	if !equalSnap(before, after) {
		t.Fatalf("state changed:\nbefore %+v\nafter  %+v", before, after)
	}
}
