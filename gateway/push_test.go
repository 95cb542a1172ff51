package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/internal/testenv"
)

// pollOnlyHourly makes the store poll (and the deny list's staleness
// bound) an hour: within a test, only the push can bring another
// replica's change.
func pollOnlyHourly(c *gateway.Config) {
	c.Limits.PollInterval = time.Hour
	c.Limits.DenyMaxStaleness = 2 * time.Hour
}

// metric returns the value of the sample named name (with its labels, as
// /metrics prints them), or -1 if there is none.
func (e *env) metric(name string) float64 {
	e.t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(e.opsGet("/metrics").body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				e.t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	return -1
}

// eventually waits until cond holds, failing the test after a minute (a
// bound for a hung test, not a latency assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatalf("after a minute: %s", what)
		}
	}
}

const (
	listening   = "mattersync_gateway_store_listening"
	resyncs     = `mattersync_gateway_store_pushes_total{kind="resync"}`
	denyPushes  = `mattersync_gateway_store_pushes_total{kind="deny"}`
	commitPushs = `mattersync_gateway_store_pushes_total{kind="commit"}`
)

// denyOn denies entity through replica e and checks e refuses it at once.
func denyOn(t *testing.T, e *env, admin, entity, victim string) {
	t.Helper()
	if r := e.do("POST", "/v1/admin/deny", admin, nil, []byte(`{"entity_id":"`+entity+`","name":"leaver","reason":"left"}`)); r.status != 201 {
		t.Fatalf("deny: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/matters", victim, nil, nil); r.status != 403 || r.apiError(t).Code != api.CodeRevoked {
		t.Fatalf("the replica that took the deny: %d %s", r.status, r.body)
	}
}

// refuses reports whether e refuses victim as revoked.
func refuses(t *testing.T, e *env, victim string) bool {
	r := e.do("GET", "/v1/matters", victim, nil, nil)
	return r.status == 403 && r.apiError(t).Code == api.CodeRevoked
}

// TestPushedDeny: two replicas on one PostgreSQL database, each polling
// the store only hourly. A deny taken by replica A reaches replica B
// through the push (LISTEN/NOTIFY), and so does A's commit to a matter
// B's long poll waits on. B's listening connection is outside its pool.
func TestPushedDeny(t *testing.T) {
	dsn := testenv.Postgres(t)
	a := newEnv(t, envOpts{postgresDSN: dsn, tune: pollOnlyHourly})
	b := newEnv(t, envOpts{postgresDSN: dsn, tune: pollOnlyHourly, bucket: a.bucket, issuer: a.issuer, key: a.key, sealer: a.sealer})
	admin := a.token("ent-admin", "mattersync-admins")
	victim := a.token("ent-leaver", "matter-m-rw")
	for _, e := range []*env{a, b} {
		eventually(t, "a replica is not listening", func() bool { return e.metric(listening) == 1 })
	}

	t.Run("the listening connection is not the pool's", func(t *testing.T) {
		pool := b.db.(*postgres.Store).Pool()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for range int(pool.Config().MaxConns) {
			c, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatalf("the pool's %d connections are not all free while listening: %v", pool.Config().MaxConns, err)
			}
			defer c.Release()
		}
	})

	t.Run("deny", func(t *testing.T) {
		if r := b.do("GET", "/v1/matters", victim, nil, nil); r.status != 200 {
			t.Fatalf("before the deny: %d %s", r.status, r.body)
		}
		denyOn(t, a, admin, "ent-leaver", victim)
		eventually(t, "replica b never refused the denied entity (an hourly poll: only the push brings it)", func() bool { return refuses(t, b, victim) })
		if b.metric(denyPushes) < 1 {
			t.Fatalf("replica b refused without a deny push")
		}
		if r := b.do("DELETE", "/v1/admin/deny/ent-leaver", admin, nil, nil); r.status != 204 {
			t.Fatalf("undeny: %d %s", r.status, r.body)
		}
		eventually(t, "replica a never saw the removal", func() bool { return a.do("GET", "/v1/matters", victim, nil, nil).status == 200 })
	})

	t.Run("commit wakes the other replica's long poll", func(t *testing.T) {
		tok := a.token("ent-1", "matter-m-rw")
		var head api.Changes
		json.Unmarshal(b.do("GET", "/v1/matters/m/changes?since=0", tok, nil, nil).body, &head)
		pushed := b.metric(commitPushs)
		done := make(chan resp)
		go func() {
			done <- b.do("GET", "/v1/matters/m/changes?since="+itoa(head.Head)+"&wait=20s", tok, nil, nil)
		}()
		time.Sleep(100 * time.Millisecond) // let the poll start; correctness does not depend on it
		c := a.commit("m", tok, a.newFile("m"), 0)
		r := <-done
		var ch api.Changes
		json.Unmarshal(r.body, &ch)
		if r.status != 200 || len(ch.Changes) != 1 || ch.Changes[0].Seq != c.Seq {
			t.Fatalf("long poll answered %d %s, want the commit with seq %d", r.status, r.body, c.Seq)
		}
		if b.metric(commitPushs) <= pushed {
			t.Fatal("replica b answered without a commit push")
		}
		if a.metric(commitPushs) > 0 {
			t.Fatal("replica a was pushed its own commit")
		}
	})
}

// TestPushRecovers: the listening connections are killed
// (pg_terminate_backend); each replica listens again and refreshes
// (resync), and a deny then still reaches replica B by push alone. A
// notification that never comes (the trigger disabled) is caught by the
// fallback poll of a replica polling as usual.
func TestPushRecovers(t *testing.T) {
	dsn := testenv.Postgres(t)
	a := newEnv(t, envOpts{postgresDSN: dsn, tune: pollOnlyHourly})
	b := newEnv(t, envOpts{postgresDSN: dsn, tune: pollOnlyHourly, bucket: a.bucket, issuer: a.issuer, key: a.key, sealer: a.sealer})
	admin := a.token("ent-admin", "mattersync-admins")
	for _, e := range []*env{a, b} {
		eventually(t, "a replica is not listening", func() bool { return e.metric(listening) == 1 })
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	t.Run("listening connection killed", func(t *testing.T) {
		before := b.metric(resyncs)
		var killed int
		if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'mattersync-gateway listen'`).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if killed != 2 {
			t.Fatalf("%d listening connections killed, want 2 (one per replica)", killed)
		}
		eventually(t, "replica b did not listen again", func() bool { return b.metric(resyncs) > before && b.metric(listening) == 1 })
		victim := a.token("ent-after-kill", "matter-m-rw")
		denyOn(t, a, admin, "ent-after-kill", victim)
		eventually(t, "replica b never refused the entity denied after the kill", func() bool { return refuses(t, b, victim) })
	})

	t.Run("missed notification caught by the poll", func(t *testing.T) {
		// A third replica polling as usual; no deny notification is sent.
		c := newEnv(t, envOpts{postgresDSN: dsn, bucket: a.bucket, issuer: a.issuer, key: a.key, sealer: a.sealer})
		eventually(t, "replica c is not listening", func() bool { return c.metric(listening) == 1 })
		if _, err := conn.Exec(ctx, `ALTER TABLE counters DISABLE TRIGGER counters_notify_deny`); err != nil {
			t.Fatal(err)
		}
		victim := a.token("ent-unannounced", "matter-m-rw")
		denyOn(t, a, admin, "ent-unannounced", victim)
		eventually(t, "replica c never refused the entity denied unannounced", func() bool { return refuses(t, c, victim) })
		if n := c.metric(denyPushes); n > 0 {
			t.Fatalf("replica c had %v deny pushes with the trigger disabled", n)
		}
	})
}

// TestCancelledPollNotAnError: a long poll its client gives up (an agent
// stopping, a laptop asleep) is not logged as a failed request: at ERROR
// it buried the real failures of the replicas' logs.
func TestCancelledPollNotAnError(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, envOpts{logs: logs})
	tok := e.token("ent-1", "matter-m-rw")
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.url+"/v1/matters/m/changes?since=0&wait=20s", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	done := make(chan struct{})
	go func() {
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
		close(done)
	}()
	time.Sleep(100 * time.Millisecond) // let the poll wait; the test holds without it
	cancel()
	<-done
	eventually(t, "the cancelled poll was never logged", func() bool {
		for _, l := range logs.lines("request") {
			if l["route"] == "/v1/matters/{m}/changes" {
				return true
			}
		}
		return false
	})
	if failed := logs.lines("request failed"); len(failed) > 0 {
		t.Fatalf("a cancelled long poll logged as failed: %v", failed)
	}
}
