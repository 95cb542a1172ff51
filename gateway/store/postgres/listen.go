package postgres

// Push: the triggers of migration 0020 notify channel 'mattersync' in the
// transaction of each deny-list change and commit; Listen receives them on
// a connection of its own.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattersync/mattersync/gateway/store"
)

// listenChannel is the channel the triggers notify.
const listenChannel = "mattersync"

// listenAppName names the listening connection in pg_stat_activity, so an
// operator (and a test) can tell it from the pool's.
const listenAppName = "mattersync-gateway listen"

// listenCheck is how long the listening connection may stay silent before
// it is pinged: a connection that died without a word (a dropped route, a
// failover that never sent a FIN) would otherwise wait forever, and
// replicas would learn by polling only.
const listenCheck = 30 * time.Second

// ownBackends is the set of backend PIDs of this Store's request pool. A
// commit notified from one of them is this replica's own, whose feeds it
// woke already: Listen does not pass it on.
type ownBackends struct {
	mu   sync.Mutex // guards pids
	pids map[uint32]struct{}
}

func (o *ownBackends) add(c *pgx.Conn) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pids[c.PgConn().PID()] = struct{}{}
}

func (o *ownBackends) remove(c *pgx.Conn) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.pids, c.PgConn().PID())
}

func (o *ownBackends) has(pid uint32) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.pids[pid]
	return ok
}

// Listen implements gateway.Pusher. It holds one connection outside both
// pools (so it neither counts against store.max_conns nor waits behind
// requests for a connection), LISTENs, calls push with PushResync, then
// with every deny-list change and every other replica's commit, until
// ctx ends (nil) or the connection fails (the error: the caller listens
// again).
func (s *Store) Listen(ctx context.Context, push func(store.Push)) error {
	cfg := s.listenConfig.Copy()
	cfg.RuntimeParams["application_name"] = listenAppName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: listen: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+listenChannel); err != nil {
		return fmt.Errorf("postgres: listen: %w", err)
	}
	push(store.Push{Kind: store.PushResync})
	for {
		wctx, cancel := context.WithTimeout(ctx, listenCheck)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("postgres: listen: %w", err)
			}
			continue
		case err != nil:
			return fmt.Errorf("postgres: listen: %w", err)
		}
		switch matter, commit := strings.CutPrefix(n.Payload, "commit "); {
		case n.Payload == "deny":
			push(store.Push{Kind: store.PushDeny})
		case commit && !s.own.has(n.PID):
			push(store.Push{Kind: store.PushCommit, Matter: matter})
		}
	}
}
