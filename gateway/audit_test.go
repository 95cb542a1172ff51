package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/internal/testenv"
)

// logBuffer collects the gateway's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log lines whose msg is msg, decoded.
func (b *logBuffer) lines(msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// exec runs a statement against the env's database directly ($1, $2, ...).
func (e *env) exec(query string, args ...any) {
	e.t.Helper()
	var err error
	switch s := e.db.(type) {
	case *sqlite.Store:
		_, err = s.DB().Exec(query, args...)
	case *postgres.Store:
		_, err = s.Pool().Exec(context.Background(), query, args...)
	default:
		e.t.Fatalf("exec: store %T", s)
	}
	if err != nil {
		e.t.Fatalf("exec %q: %v", query, err)
	}
}

// signCheckpoint makes the gateway sign one and returns the anchor its
// SIEM log line carries.
func signCheckpoint(t *testing.T, e *env, logs *logBuffer) audit.Anchor {
	t.Helper()
	if err := e.srv.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := logs.lines("audit checkpoint signed")
	if len(lines) == 0 {
		t.Fatal("no 'audit checkpoint signed' log line")
	}
	l := lines[len(lines)-1]
	for _, k := range []string{"seq", "hash", "checkpoint_time", "key_id", "signature", "prev_seq", "prev"} {
		if _, ok := l[k]; !ok {
			t.Fatalf("checkpoint log line lacks %s: %v", k, l)
		}
	}
	a, err := audit.ParseAnchor(l["anchor"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// rewriteAudit is the attack: with write access to the database, rewrite
// every record up to keep (changing one, recomputing every hash and link),
// delete the records after it and every checkpoint.
func rewriteAudit(t *testing.T, e *env, keep int64) {
	t.Helper()
	var recs []audit.Record
	e.store.Audit.AuditRecords(context.Background(), audit.Query{}, func(r *audit.Record) error { recs = append(recs, *r); return nil })
	e.exec(`DELETE FROM audit_checkpoints`)
	e.exec(`DELETE FROM audit_records`)
	var prev audit.Hash
	for i := range recs[:keep] {
		r := recs[i]
		if i == 1 {
			r.User = "cover-story"
		}
		r.Link(int64(i), prev)
		prev = r.Hash
		e.exec(`INSERT INTO audit_records (seq, time_us, entity, username, device, source, matter, action, object, result, status, bytes, request_id, prev_hash, hash, decided_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			r.Seq, r.Time.UnixMicro(), r.Entity, r.User, r.Device, r.Source, r.Matter, r.Action, r.Object, r.Result, r.Status, r.Bytes, r.RequestID, r.PrevHash[:], r.Hash[:], r.Decided.UnixMicro())
	}
	if _, ok := e.db.(*postgres.Store); ok {
		// Appends continue the forged chain.
		e.exec(`UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, keep, prev[:])
	}
}

// TestAuditRewriteCaught is the review's scenario: rewrite all records,
// delete the tail and the checkpoints, wait for the next checkpoint. The
// replica that saw the chain refuses to sign the forgery and says so;
// verify fails from the database alone (no checkpoints where there must be
// some) and from the SIEM's copy of a checkpoint.
func TestAuditRewriteCaught(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			logs := &logBuffer{}
			o := envOpts{logs: logs}
			if backend == "postgres" {
				o.postgresDSN = testenv.Postgres(t)
			}
			e := newEnv(t, o)
			keys := []ed25519.PublicKey{e.key.Public().(ed25519.PublicKey)}
			tok := e.token("ent-1", "matter-a-rw")
			admin := e.token("ent-admin", "mattersync-admins")
			get := func(n int) {
				for range n {
					if r := e.do("GET", "/v1/matters", tok, nil, nil); r.status != 200 {
						t.Fatalf("GET /v1/matters: %d", r.status)
					}
				}
			}
			ctx := context.Background()
			get(3)
			first := signCheckpoint(t, e, logs)
			time.Sleep(2100 * time.Millisecond) // the records span more than 2 intervals of 1 s
			get(3)
			second := signCheckpoint(t, e, logs)
			get(3)
			if rep, err := audit.Verify(ctx, e.store.Audit, keys, audit.VerifyOptions{CheckpointInterval: time.Second, MaxCheckpointAge: time.Hour,
				Expect: []audit.Anchor{first, second}}); err != nil || !rep.OK {
				t.Fatalf("before the attack: %+v %v", rep, err)
			}

			rewriteAudit(t, e, second.Seq-2)
			get(1) // a request on the forged chain
			// The links are consistent again: without its checkpoints the
			// forged chain alone would verify.
			if rep, err := audit.Verify(ctx, e.store.Audit, keys, audit.VerifyOptions{}); err != nil || !rep.OK {
				t.Fatalf("forged chain without the checkpoint rules: %+v %v", rep, err)
			}
			rep, err := audit.Verify(ctx, e.store.Audit, keys, audit.VerifyOptions{CheckpointInterval: time.Second})
			if err != nil || rep.OK || rep.Problem.Seq != 1 || !strings.Contains(rep.Problem.Reason, "no signed checkpoint") {
				t.Fatalf("verify (interval 1s) = %+v %+v, %v", rep, rep.Problem, err)
			}
			rep, err = audit.Verify(ctx, e.store.Audit, keys, audit.VerifyOptions{Expect: []audit.Anchor{first}})
			if err != nil || rep.OK || rep.Problem.Seq != first.Seq {
				t.Fatalf("verify with the SIEM's checkpoint = %+v %+v, %v", rep, rep.Problem, err)
			}

			// The next checkpoint: refused, loudly.
			if err := e.srv.Checkpoint(ctx); err == nil || !strings.Contains(err.Error(), "broken") {
				t.Fatalf("checkpoint of the forged chain: %v", err)
			}
			if cps, _ := e.store.Audit.Checkpoints(ctx); len(cps) != 0 {
				t.Fatalf("the forged chain was signed: %+v", cps)
			}
			if len(logs.lines("audit chain broken")) == 0 {
				t.Fatal("no 'audit chain broken' log line")
			}
			if m := e.opsGet("/metrics"); !strings.Contains(string(m.body), "mattersync_gateway_audit_chain_broken 1") {
				t.Fatal("metric mattersync_gateway_audit_chain_broken is not 1")
			}
			if r := e.opsGet("/readyz"); r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"audit":"fail"`) {
				t.Fatalf("readyz: %d %s", r.status, r.body)
			}
			// Still refused later (until an operator restarts the replica).
			if err := e.srv.Checkpoint(ctx); err == nil {
				t.Fatal("second checkpoint of the forged chain signed")
			}
			// The gateway's verify endpoint with the SIEM's copy.
			r := e.do("POST", "/v1/admin/audit/verify?expect="+first.String(), admin, nil, nil)
			var vr audit.Report
			if json.Unmarshal(r.body, &vr); r.status != 200 || vr.OK || vr.Problem == nil || vr.Problem.Seq != first.Seq {
				t.Fatalf("online verify with the expected checkpoint: %d %s", r.status, r.body)
			}

			if backend == "postgres" {
				// A replica started after the attack cannot know and signs
				// the forged head; the SIEM's copy still catches it.
				b := newEnv(t, envOpts{postgresDSN: o.postgresDSN, bucket: e.bucket, issuer: e.issuer, key: e.key, sealer: e.sealer})
				if err := b.srv.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
				rep, err := audit.Verify(ctx, b.store.Audit, keys, audit.VerifyOptions{CheckpointInterval: time.Second, Expect: []audit.Anchor{first, second}})
				if err != nil || rep.OK || rep.Problem.Seq != first.Seq {
					t.Fatalf("verify after a new replica signed the forgery = %+v %+v, %v", rep, rep.Problem, err)
				}
			}
		})
	}
}

// TestSignerRemembersItsCheckpoints: a replica notices its own checkpoint
// deleted, and a tail deleted below it, even when every remaining link is
// intact.
func TestSignerRemembersItsCheckpoints(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(e *env, cp audit.Anchor)
	}{
		{"checkpoint deleted", func(e *env, cp audit.Anchor) {
			e.exec(`DELETE FROM audit_checkpoints WHERE seq = $1`, cp.Seq)
		}},
		{"tail deleted", func(e *env, cp audit.Anchor) {
			e.exec(`DELETE FROM audit_checkpoints`)
			e.exec(`DELETE FROM audit_records WHERE seq >= $1`, cp.Seq)
		}},
		{"record edited under the anchor", func(e *env, cp audit.Anchor) {
			e.exec(`UPDATE audit_records SET username = 'x' WHERE seq = $1`, cp.Seq)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			e := newEnv(t, envOpts{logs: logs})
			tok := e.token("ent-1", "matter-a-rw")
			for range 4 {
				e.do("GET", "/v1/matters", tok, nil, nil)
			}
			cp := signCheckpoint(t, e, logs)
			// Unchanged head: nothing to sign, nothing wrong.
			if err := e.srv.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.do("GET", "/v1/matters", tok, nil, nil)
			tc.tamper(e, cp)
			e.do("GET", "/v1/matters", tok, nil, nil)
			if err := e.srv.Checkpoint(context.Background()); err == nil {
				t.Fatal("checkpoint signed after tampering")
			}
			if r := e.opsGet("/readyz"); r.status != http.StatusServiceUnavailable {
				t.Fatalf("readyz: %d %s", r.status, r.body)
			}
		})
	}
	// And the checkpoints of two signers chain (no fork).
	t.Run("chained", func(t *testing.T) {
		logs := &logBuffer{}
		e := newEnv(t, envOpts{logs: logs})
		tok := e.token("ent-1", "matter-a-rw")
		var prev audit.Anchor
		for range 3 {
			e.do("GET", "/v1/matters", tok, nil, nil)
			a := signCheckpoint(t, e, logs)
			last, err := e.store.Audit.LastCheckpoint(context.Background())
			if err != nil || last.Seq != a.Seq || last.PrevSeq != prev.Seq || !last.Chained() {
				t.Fatalf("checkpoint %+v, want following %d", last, prev.Seq)
			}
			prev = a
		}
	})
}
