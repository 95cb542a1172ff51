package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
)

// denyProbe is a user outside the load (no matter) whose entity IT puts
// on the deny list during the run; each replica is then asked directly,
// bypassing HAProxy, until it refuses the user's token.
type denyProbe struct {
	name, password string
}

// denyResult is how long each replica took to refuse a denied entity,
// counted from the deny's acknowledgement.
type denyResult struct {
	Took    []time.Duration // per replica: the first refusal's answer; -1: none within 10 s
	Replica []denyTrace     // per replica: every attempt, for what Took hides
	Err     string
}

// denyTrace is what one replica answered the denied user after the ack.
// Attempts start every probeEvery without waiting for the previous answer
// (a request can take seconds under load: its audit record queues on the
// chain head), so the first refused attempt's start bounds when the
// replica knew, and an attempt served after it would be a breach.
type denyTrace struct {
	FirstRefusedSent time.Duration // start of the earliest-started refused attempt; -1: none
	LastServedSent   time.Duration // start of the latest-started served attempt; -1: none
	Served           int           // attempts answered 200 (the check ran before the replica knew)
	ServedAfter      int           // served attempts started after FirstRefusedSent: must be 0
	Unavailable      int           // 503s and transport errors (a replica failing closed refuses everyone)
	Attempts         int
}

// probeEvery is how often an attempt starts on each replica,
// probeInflight how many may wait for their answer at once, and
// probeTimeout how long one may wait.
const (
	probeEvery    = 20 * time.Millisecond
	probeInflight = 16
	probeTimeout  = 20 * time.Second
)

func (d *denyResult) String() string {
	if d.Err != "" {
		return "failed: " + d.Err
	}
	var parts []string
	for i, t := range d.Took {
		s := "not within 10 s"
		if t >= 0 {
			s = t.Round(time.Millisecond).String()
		}
		if i < len(d.Replica) {
			tr := d.Replica[i]
			s += fmt.Sprintf(" (first refused attempt started at %v, last served started at %v; %d served, %d after a refusal, %d unavailable, of %d)",
				roundOrNone(tr.FirstRefusedSent), roundOrNone(tr.LastServedSent), tr.Served, tr.ServedAfter, tr.Unavailable, tr.Attempts)
		}
		parts = append(parts, fmt.Sprintf("replica %d %s", i+1, s))
	}
	return strings.Join(parts, ", ")
}

func roundOrNone(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

// attempt is one request of the probe: started and answered, relative
// to the ack.
type attempt struct {
	sent, answered time.Duration
	refused        bool
	unavailable    bool
}

// traceReplica asks c every probeEvery until an answer refuses the user
// (or 10 s), and returns the first refusal's answer time and the trace.
func traceReplica(ctx context.Context, c *client.Client, acked time.Time) (time.Duration, denyTrace) {
	var mu sync.Mutex
	var all []attempt
	done := make(chan struct{})
	var once sync.Once
	slots := make(chan struct{}, probeInflight)
	var wg sync.WaitGroup
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
loop:
	for time.Since(acked) < 10*time.Second && ctx.Err() == nil {
		select {
		case <-done:
			break loop
		case slots <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			a := attempt{sent: time.Since(acked)}
			_, err := c.Matters(ctx)
			a.answered = time.Since(acked)
			switch code := client.Code(err); {
			case code == api.CodeRevoked || code == api.CodeForbidden || code == api.CodeUnauthenticated:
				a.refused = true
				once.Do(func() { close(done) })
			case err != nil:
				a.unavailable = true
			}
			mu.Lock()
			all = append(all, a)
			mu.Unlock()
		}()
		select {
		case <-done:
			break loop
		case <-tick.C:
		}
	}
	wg.Wait()
	took := time.Duration(-1)
	tr := denyTrace{FirstRefusedSent: -1, LastServedSent: -1, Attempts: len(all)}
	for _, a := range all {
		switch {
		case a.refused:
			if took < 0 || a.answered < took {
				took = a.answered
			}
			if tr.FirstRefusedSent < 0 || a.sent < tr.FirstRefusedSent {
				tr.FirstRefusedSent = a.sent
			}
		case a.unavailable:
			tr.Unavailable++
		default:
			tr.Served++
			tr.LastServedSent = max(tr.LastServedSent, a.sent)
		}
	}
	for _, a := range all {
		if !a.refused && !a.unavailable && tr.FirstRefusedSent >= 0 && a.sent > tr.FirstRefusedSent {
			tr.ServedAfter++
		}
	}
	return took, tr
}

// probeSession is the probe user's and IT's Vault sessions and their
// clients, opened before the agents start: under load the logins and the
// first identity tokens took 7–17 s, which slid the run's timeline of
// faults (each event waits for the one before).
type probeSession struct {
	name     string
	user     *kms.Keyring
	adm      *kms.Admin
	it       *client.Client
	replicas []*client.Client
}

func (s *probeSession) Close() {
	if s.user != nil {
		s.user.Close()
	}
	if s.adm != nil {
		s.adm.Close()
	}
}

// openProbe logs the probe user and IT in and asks each replica once as
// the user (fetching its identity token).
func (r *runner) openProbe(ctx context.Context, p denyProbe) (*probeSession, error) {
	ps := &probeSession{name: p.name}
	kcfg := kms.DefaultConfig()
	kcfg.Address = r.s.VaultAddr()
	var err error
	if ps.user, err = kms.Login(ctx, kcfg, kms.UserpassAuth{Mount: "userpass", Username: p.name, Password: p.password}); err != nil {
		return ps, err
	}
	if ps.adm, err = kms.Connect(ctx, kcfg, kms.UserpassAuth{Mount: "userpass", Username: r.s.AdminUser(), Password: r.s.Password(r.s.AdminUser())}); err != nil {
		return ps, err
	}
	if ps.it, err = client.New(r.s.GatewayURL(), ps.adm, client.Options{Device: "it-desk"}); err != nil {
		return ps, err
	}
	if _, err := ps.it.Matters(ctx); err != nil { // IT's identity token
		return ps, fmt.Errorf("IT: %w", err)
	}
	for i := range r.cfg.Replicas {
		// A refusal is answered once its audit record is written: under
		// load that took 4–6 s, and a shorter timeout counted a replica
		// that refused at once as unavailable.
		c, err := client.New(r.s.ReplicaURL(i), ps.user, client.Options{Device: "probe", HTTPClient: &http.Client{Timeout: probeTimeout}})
		if err != nil {
			return ps, err
		}
		if _, err := c.Matters(ctx); err != nil {
			return ps, fmt.Errorf("replica %d: %w", i+1, err)
		}
		ps.replicas = append(ps.replicas, c)
	}
	return ps, nil
}

// probeDeny denies the probe user through HAProxy as IT, measures when
// every replica refuses the user, then lifts the deny again.
func (r *runner) probeDeny(ctx context.Context, ps *probeSession, start time.Time) *denyResult {
	res := &denyResult{}
	user, it, replicas := ps.user, ps.it, ps.replicas
	for i, c := range replicas {
		for try := 1; ; try++ {
			_, err := c.Matters(ctx)
			if err == nil {
				break
			}
			if try == 3 || ctx.Err() != nil {
				res.Err = fmt.Sprintf("replica %d before the deny: %v", i+1, err)
				return res
			}
			sleep(ctx, time.Second)
		}
	}
	if err := it.Deny(ctx, user.EntityID(), ps.name, "bench/load deny propagation"); err != nil {
		res.Err = "deny: " + err.Error()
		return res
	}
	acked := time.Now()
	// Its place on the run's timeline (faults, flood) and the wall clock,
	// to match the replicas' logs ("deny list reloaded").
	r.say("deny acknowledged %v into the run (%s)", acked.Sub(start).Round(time.Millisecond), acked.UTC().Format("15:04:05.000"))
	defer it.Undeny(context.WithoutCancel(ctx), user.EntityID())
	res.Took = make([]time.Duration, len(replicas))
	res.Replica = make([]denyTrace, len(replicas))
	var wg sync.WaitGroup
	for i, c := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.Took[i], res.Replica[i] = traceReplica(ctx, c, acked)
		}()
	}
	wg.Wait()
	return res
}
