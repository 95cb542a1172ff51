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
	Took []time.Duration // per replica in the pool; -1: not within the limit
	Err  string
}

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
		parts = append(parts, fmt.Sprintf("replica %d %s", i+1, s))
	}
	return strings.Join(parts, ", ")
}

// probeDeny denies the probe user through HAProxy as IT, measures when
// every replica refuses the user, then lifts the deny again.
func (r *runner) probeDeny(ctx context.Context, p denyProbe) *denyResult {
	res := &denyResult{}
	kcfg := kms.DefaultConfig()
	kcfg.Address = r.s.VaultAddr()
	user, err := kms.Login(ctx, kcfg, kms.UserpassAuth{Mount: "userpass", Username: p.name, Password: p.password})
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer user.Close()
	adm, err := kms.Connect(ctx, kcfg, kms.UserpassAuth{Mount: "userpass", Username: r.s.AdminUser(), Password: r.s.Password(r.s.AdminUser())})
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer adm.Close()
	it, err := client.New(r.s.GatewayURL(), adm, client.Options{Device: "it-desk"})
	if err != nil {
		res.Err = err.Error()
		return res
	}
	var replicas []*client.Client
	for i := range r.cfg.Replicas {
		c, err := client.New(r.s.ReplicaURL(i), user, client.Options{Device: "probe", HTTPClient: &http.Client{Timeout: 5 * time.Second}})
		if err != nil {
			res.Err = err.Error()
			return res
		}
		if _, err := c.Matters(ctx); err != nil {
			res.Err = fmt.Sprintf("replica %d before the deny: %v", i+1, err)
			return res
		}
		replicas = append(replicas, c)
	}
	if err := it.Deny(ctx, user.EntityID(), p.name, "bench/load deny propagation"); err != nil {
		res.Err = "deny: " + err.Error()
		return res
	}
	acked := time.Now()
	defer it.Undeny(context.WithoutCancel(ctx), user.EntityID())
	res.Took = make([]time.Duration, len(replicas))
	var wg sync.WaitGroup
	for i, c := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.Took[i] = -1
			for time.Since(acked) < 10*time.Second && ctx.Err() == nil {
				_, err := c.Matters(ctx)
				if code := client.Code(err); code == api.CodeRevoked || code == api.CodeForbidden || code == api.CodeUnauthenticated {
					res.Took[i] = time.Since(acked)
					return
				}
				sleep(ctx, 10*time.Millisecond)
			}
		}()
	}
	wg.Wait()
	return res
}
