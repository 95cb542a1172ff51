package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattersync/mattersync/internal/testenv"
)

// pgSampler lists the server processes serving the run's database (from
// pg_stat_activity, through the server's maintenance database, so
// dropping the run's connections does not drop it).
type pgSampler struct {
	db   string
	mu   sync.Mutex // guards pids
	pids []int
}

func (r *runner) setPIDs() {
	p := r.s.ServerPIDs()
	r.pidsMu.Lock()
	r.pids = p
	r.pidsMu.Unlock()
}

func (r *runner) pidList(pg *pgSampler) map[string][]int {
	out := map[string][]int{"load generator (this process)": {os.Getpid()}}
	r.pidsMu.Lock()
	for name, pid := range r.pids {
		out[name] = []int{pid}
	}
	r.pidsMu.Unlock()
	pg.mu.Lock()
	out["postgres"] = append([]int(nil), pg.pids...)
	pg.mu.Unlock()
	return out
}

// startSampler reads the servers' CPU time and RSS every second until
// ctx ends.
func (r *runner) startSampler(ctx context.Context) (*pgSampler, error) {
	u, err := url.Parse(r.cfg.PostgresDSN)
	if err != nil {
		return nil, err
	}
	pg := &pgSampler{db: strings.TrimPrefix(u.Path, "/")}
	r.setPIDs()
	pg.refresh(ctx)
	r.usage.sample(r.pidList(pg), true)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pg.refresh(ctx)
			r.usage.sample(r.pidList(pg), false)
		}
	}()
	return pg, nil
}

func (pg *pgSampler) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testenv.DefaultPostgresDSN)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", pg.db)
	if err != nil {
		return
	}
	var pids []int
	for rows.Next() {
		var p int
		if rows.Scan(&p) == nil {
			pids = append(pids, p)
		}
	}
	pg.mu.Lock()
	pg.pids = pids
	pg.mu.Unlock()
}

// verify checks the store against the acknowledged commits: each one is
// there with the sequence number the gateway answered, each matter's
// sequence numbers have no gap and no duplicate, and `audit verify` says
// the chain is intact.
func (r *runner) verify(ctx context.Context, rep *Report) error {
	conn, err := pgx.Connect(ctx, r.cfg.PostgresDSN)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	type key struct {
		matter, file string
		version      int64
	}
	stored := map[key]int64{}
	rows, err := conn.Query(ctx, "SELECT matter, encode(file, 'hex'), version, seq FROM versions")
	if err != nil {
		return err
	}
	for rows.Next() {
		var k key
		var seq int64
		if err := rows.Scan(&k.matter, &k.file, &k.version, &seq); err != nil {
			return err
		}
		stored[k] = seq
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range r.commits {
		seq, ok := stored[key{c.matter, c.file, c.version}]
		switch {
		case !ok:
			rep.Lost++
			if rep.Lost <= 5 {
				rep.SeqProblems = append(rep.SeqProblems, fmt.Sprintf("acknowledged %s file %s version %d (seq %d) is not in the store", c.matter, c.file[:12], c.version, c.seq))
			}
		case seq != c.seq:
			rep.SeqProblems = append(rep.SeqProblems, fmt.Sprintf("%s file %s version %d: acknowledged as seq %d, stored as %d", c.matter, c.file[:12], c.version, c.seq, seq))
		default:
			rep.Found++
		}
	}
	rows, err = conn.Query(ctx, "SELECT matter, count(*), count(DISTINCT seq), min(seq), max(seq) FROM versions GROUP BY matter")
	if err != nil {
		return err
	}
	for rows.Next() {
		var m string
		var n, distinct, lo, hi int64
		if err := rows.Scan(&m, &n, &distinct, &lo, &hi); err != nil {
			return err
		}
		if distinct != n || hi-lo+1 != n || lo != 1 {
			rep.SeqProblems = append(rep.SeqProblems, fmt.Sprintf("%s: %d versions, %d distinct sequence numbers from %d to %d", m, n, distinct, lo, hi))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	out, err := r.s.Admin(actx, "audit", "verify")
	rep.AuditOut = strings.TrimSpace(out)
	rep.AuditIntact = err == nil && strings.Contains(out, "intact")
	return nil
}
