package gateway_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/anchor"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// anchors are the real anchors of one test: a new Object Lock bucket on
// MinIO and the head in a real Vault, written with the gateway's AppRole
// login.
type anchors struct {
	s3     *anchor.S3
	head   *anchor.Head
	bucket string
	minio  *minio.Client
}

func (a *anchors) list() []gateway.Anchor { return []gateway.Anchor{a.s3, a.head} }

func (a *anchors) witnesses() []audit.Witness { return []audit.Witness{a.s3, a.head} }

// LockedBucket creates a bucket with Object Lock enabled. Its copies stay
// locked for the retention the test gives them (locked objects outlive the
// test: the MinIO server's temp directory goes with the test binary).
func lockedBucket(t *testing.T) (string, *blob.Store) {
	t.Helper()
	m := testenv.MinIO(t)
	name := testenv.RandomName("t-lock-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
		t.Fatalf("make locked bucket: %v", err)
	}
	b, err := blob.New(blob.Config{Endpoint: m.Endpoint, Bucket: name, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return name, b
}

func newAnchors(t *testing.T) *anchors {
	t.Helper()
	bucket, objs := lockedBucket(t)
	a := &anchors{bucket: bucket, minio: testenv.MinIO(t).Client(t)}
	a.s3 = anchor.NewS3(objs, bucket, "audit/checkpoints/", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := a.s3.Check(ctx); err != nil {
		t.Fatal(err)
	}
	kenv := kmstest.Setup(t)
	mount := testenv.RandomName("t-approle-")
	login, _, err := kenv.Admin.SetupGatewayLogin(ctx, kms.GatewayLoginOptions{Mount: mount, NewSecretID: true}, nil)
	if err != nil {
		t.Fatalf("setup gateway login: %v", err)
	}
	t.Cleanup(func() { _ = kenv.Vault.Client(t).Sys().DisableAuth(mount) })
	h, err := kms.OpenAuditHead(ctx, kenv.Config, kms.AppRoleAuth{Mount: mount, RoleID: login.RoleID, SecretID: login.SecretID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	a.head = anchor.NewHead(h, func(err error) bool { return fault.Of(err) == fault.Conflict })
	// The gateway's login may write the head, and nothing else.
	if _, _, err := h.ReadHead(ctx); err != nil {
		t.Fatalf("read head with the gateway's login: %v", err)
	}
	return a
}

// traffic makes rounds of n audited requests, each round closed by a
// checkpoint (copied to the anchors).
func traffic(t *testing.T, e *env, rounds, n int) {
	t.Helper()
	tok := e.token("ent-1", "matter-a-rw")
	for range rounds {
		for range n {
			if r := e.do("GET", "/v1/matters", tok, nil, nil); r.status != 200 {
				t.Fatalf("GET /v1/matters: %d", r.status)
			}
		}
		if err := e.srv.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) verifyWith(t *testing.T, a *anchors) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), e.store.Audit, []ed25519.PublicKey{e.key.Public().(ed25519.PublicKey)},
		audit.VerifyOptions{Witnesses: a.witnesses()})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func reportText(rep audit.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ok=%v records=%d checkpoints=%d", rep.OK, rep.Records, rep.Checkpoints)
	if rep.Anchors != nil {
		fmt.Fprintf(&b, " anchors checked=%d matched=%d newest=%d", rep.Anchors.Checked, rep.Anchors.Matched, rep.Anchors.Newest)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "\n  %s %d..%d: %s", p.Kind, p.Seq, p.To, p.Reason)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(&b, "\n  warning: %s", w)
	}
	return b.String()
}

func findProblem(rep audit.Report, kind string, from, to int64) bool {
	for _, p := range rep.Problems {
		if p.Kind == kind && p.Seq == from && (to == 0 || p.To == to) {
			return true
		}
	}
	return false
}

// TestAnchorBattery is the attacker with write access to the database, on
// SQLite and PostgreSQL, with the copies in a real MinIO bucket under
// Object Lock and the head in a real Vault: each attack is reported with
// what it took, never "intact".
func TestAnchorBattery(t *testing.T) {
	type attack struct {
		name string
		// do tampers with the database whose head is record head and
		// whose newest checkpoint is of record lastCp; it returns the
		// check of the report.
		do func(t *testing.T, e *env, head, lastCp int64) func(audit.Report) bool
	}
	attacks := []attack{
		{"edit a record", func(t *testing.T, e *env, head, lastCp int64) func(audit.Report) bool {
			e.exec(`UPDATE audit_records SET username = 'cover-story' WHERE seq = 10`)
			return func(r audit.Report) bool { return findProblem(r, audit.ProblemModified, 10, 10) }
		}},
		{"delete a middle range", func(t *testing.T, e *env, head, lastCp int64) func(audit.Report) bool {
			e.exec(`DELETE FROM audit_records WHERE seq BETWEEN 30 AND 45`)
			return func(r audit.Report) bool { return findProblem(r, audit.ProblemMissing, 30, 45) }
		}},
		{"delete the newest records", func(t *testing.T, e *env, head, lastCp int64) func(audit.Report) bool {
			e.exec(`DELETE FROM audit_records WHERE seq > $1`, lastCp-15)
			setPGHead(t, e)
			return func(r audit.Report) bool { return findProblem(r, audit.ProblemTruncated, lastCp-14, lastCp) }
		}},
		{"delete the newest records and their checkpoints", func(t *testing.T, e *env, head, lastCp int64) func(audit.Report) bool {
			e.exec(`DELETE FROM audit_records WHERE seq > $1`, lastCp-35)
			e.exec(`DELETE FROM audit_checkpoints WHERE seq > $1`, lastCp-35)
			setPGHead(t, e)
			return func(r audit.Report) bool {
				return findProblem(r, audit.ProblemTruncated, lastCp-34, lastCp) && strings.Contains(r.Problem.Reason, "anchored outside")
			}
		}},
		{"rewrite the whole chain with recomputed hashes", func(t *testing.T, e *env, head, lastCp int64) func(audit.Report) bool {
			rewriteAudit(t, e, head)
			return func(r audit.Report) bool {
				return findProblem(r, audit.ProblemRewritten, 0, 0) || hasKind(r, audit.ProblemRewritten) && hasKind(r, audit.ProblemCheckpointMissing)
			}
		}},
		{"swap two records", func(t *testing.T, e *env, head, lastCp int64) func(audit.Report) bool {
			swapRecords(t, e, 20, 21)
			return func(r audit.Report) bool {
				return findProblem(r, audit.ProblemUnlinked, 20, 20) && findProblem(r, audit.ProblemModified, 21, 21)
			}
		}},
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, at := range attacks {
			t.Run(backend+"/"+at.name, func(t *testing.T) {
				a := newAnchors(t)
				o := envOpts{anchors: a.list()}
				if backend == "postgres" {
					o.postgresDSN = testenv.Postgres(t)
				}
				e := newEnv(t, o)
				traffic(t, e, 4, 20)
				rep := e.verifyWith(t, a)
				if !rep.OK || rep.Anchors.Matched != 5 { // 4 checkpoints + the head
					t.Fatalf("before the attack: %s", reportText(rep))
				}
				last, _ := e.store.Audit.LastCheckpoint(context.Background())
				head, _, _ := e.store.Audit.AuditHead(context.Background())
				check := at.do(t, e, head, last.Seq)
				rep = e.verifyWith(t, a)
				if rep.OK || !check(rep) {
					t.Fatalf("after %s: %s", at.name, reportText(rep))
				}
				t.Logf("%s", reportText(rep))
			})
		}
		// An older copy of the database restored, and a gateway started
		// on it: it says so when it first signs, and verify names the
		// records lost and where the chains fork.
		t.Run(backend+"/restore an older copy", func(t *testing.T) {
			a := newAnchors(t)
			o := envOpts{anchors: a.list()}
			if backend == "postgres" {
				o.postgresDSN = testenv.Postgres(t)
			}
			logs := &logBuffer{}
			o.logs = logs
			e := newEnv(t, o)
			traffic(t, e, 2, 20)
			backupHead, _, _ := e.store.Audit.AuditHead(context.Background())
			backupCp, _ := e.store.Audit.LastCheckpoint(context.Background())
			traffic(t, e, 3, 20)
			lostTo, _ := e.store.Audit.LastCheckpoint(context.Background())
			// The restore: the database as it was at the backup.
			e.exec(`DELETE FROM audit_records WHERE seq > $1`, backupHead)
			e.exec(`DELETE FROM audit_checkpoints WHERE seq > $1`, backupCp.Seq)
			setPGHead(t, e)
			rep := e.verifyWith(t, a)
			if rep.OK || !findProblem(rep, audit.ProblemTruncated, backupHead+1, lostTo.Seq) || !strings.Contains(rep.Problem.Reason, "older copy of the database was restored") {
				t.Fatalf("restored copy: %s", reportText(rep))
			}
			// A gateway started on the restored database.
			o2 := o
			o2.bucket, o2.issuer, o2.key, o2.sealer = e.bucket, e.issuer, e.key, e.sealer
			o2.reuse = e.db
			b := newEnv(t, o2)
			traffic(t, b, 2, 40)
			if len(logs.lines("audit log behind its anchors")) == 0 {
				t.Fatal("no 'audit log behind its anchors' log line")
			}
			if m := b.opsGet("/metrics"); !strings.Contains(string(m.body), "mattersync_gateway_audit_behind_anchors 1") {
				t.Fatal("metric mattersync_gateway_audit_behind_anchors is not 1")
			}
			if r := b.opsGet("/readyz"); r.status != http.StatusOK {
				t.Fatalf("readyz after a restore: %d %s (the replica keeps serving)", r.status, r.body)
			}
			rep = b.verifyWith(t, a)
			if rep.OK || !rewrittenAfter(rep, backupCp.Seq) {
				t.Fatalf("restored copy written to: %s", reportText(rep))
			}
			t.Logf("%s", reportText(rep))
		})
	}
}

// The copies under compliance mode cannot be deleted or overwritten, not
// even with MinIO's root credentials.
func TestAnchorsLocked(t *testing.T) {
	a := newAnchors(t)
	e := newEnv(t, envOpts{anchors: a.list()})
	traffic(t, e, 1, 3)
	ctx := context.Background()
	var key, ver string
	for o := range a.minio.ListObjectsIter(ctx, a.bucket, minio.ListObjectsOptions{Prefix: "audit/checkpoints/", Recursive: true, WithVersions: true}) {
		key, ver = o.Key, o.VersionID
	}
	if key == "" {
		t.Fatal("no copy in the bucket")
	}
	if err := a.minio.RemoveObject(ctx, a.bucket, key, minio.RemoveObjectOptions{VersionID: ver, GovernanceBypass: true}); err == nil {
		t.Fatalf("deleted %s with the root credentials", key)
	}
	mode, until, err := a.minio.GetObjectRetention(ctx, a.bucket, key, ver)
	if err != nil || mode == nil || *mode != minio.Compliance || until.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("retention of %s: %v %v %v", key, mode, until, err)
	}
	// A delete marker hides nothing from verify, and is named.
	if err := a.minio.RemoveObject(ctx, a.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	rep := e.verifyWith(t, a)
	if !rep.OK || rep.Anchors.Matched != 2 || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "delete marker") {
		t.Fatalf("after a delete marker: %s", reportText(rep))
	}
}

// rewrittenAfter reports whether rep has one rewritten finding naming
// record seq as the fork point.
func rewrittenAfter(rep audit.Report, seq int64) bool {
	n := 0
	for _, p := range rep.Problems {
		if p.Kind == audit.ProblemRewritten {
			n++
			if !strings.Contains(p.Reason, fmt.Sprintf("after record %d ", seq)) {
				return false
			}
		}
	}
	return n == 1
}

func hasKind(rep audit.Report, kind string) bool {
	for _, p := range rep.Problems {
		if p.Kind == kind {
			return true
		}
	}
	return false
}

// setPGHead points PostgreSQL's audit head row at the last record, as an
// attacker who deleted the tail would (appends continue from there).
func setPGHead(t *testing.T, e *env) {
	t.Helper()
	if _, ok := e.db.(*postgres.Store); !ok {
		return
	}
	seq, h, err := e.store.Audit.AuditHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.exec(`UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, seq, h[:])
}

// swapRecords swaps the content of two records, each keeping its sequence
// number.
func swapRecords(t *testing.T, e *env, a, b int64) {
	t.Helper()
	recs := map[int64]audit.Record{}
	e.store.Audit.AuditRecords(context.Background(), audit.Query{}, func(r *audit.Record) error {
		if r.Seq == a || r.Seq == b {
			recs[r.Seq] = *r
		}
		return nil
	})
	put := func(seq int64, r audit.Record) {
		e.exec(`UPDATE audit_records SET time_us = $2, entity = $3, username = $4, device = $5, source = $6, matter = $7, action = $8, object = $9,
			result = $10, status = $11, bytes = $12, request_id = $13, prev_hash = $14, hash = $15, decided_us = $16 WHERE seq = $1`,
			seq, r.Time.UnixMicro(), r.Entity, r.User, r.Device, r.Source, r.Matter, r.Action, r.Object, r.Result, r.Status, r.Bytes, r.RequestID,
			r.PrevHash[:], r.Hash[:], r.Decided.UnixMicro())
	}
	put(a, recs[b])
	put(b, recs[a])
}
