package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/devstack"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
)

// Config is one load run.
type Config struct {
	Agents   int           // simulated laptops
	Replicas int           // gateway replicas in HAProxy's pool
	Duration time.Duration // of the saving phase
	// MattersPerAgent and MembersPerMatter shape the firm: each agent is
	// a member of MattersPerAgent matters of MembersPerMatter members.
	MattersPerAgent, MembersPerMatter int
	SaveEvery                         time.Duration // mean time between one agent's saves
	EditShare                         float64       // share of saves that edit a known file
	BigShare                          float64       // share of new files of 1 MiB to MaxBig
	MaxBig                            int           // bytes
	Download                          bool          // agents download and open what others commit
	Wait                              time.Duration // long-poll wait

	Kill bool // kill -9 replica 1 at a third of the run, restart it 3 s later
	// Rolling restarts the replicas one at a time (SIGTERM, start, ready,
	// 2 s for HAProxy's checks to take it back) from 40% of the run.
	Rolling       bool
	PostgresFault string // at half the run: "drop" (every connection of the database) or "restart"
	// PostgresRestart is the shell command that restarts the PostgreSQL
	// server for PostgresFault "restart" (it disturbs everything else on
	// the server: never in a shared test run).
	PostgresRestart string
	Flood           int // bad-token requests per second from 60% to 90% of the run (0: none)
	// Profile, if set, is where a CPU profile of the last replica (from
	// its ops listener's /debug/pprof/) is written: taken from 35% of the
	// run, or during the flood (from 62%) when there is one.
	Profile string
	// DenyProbe puts a user on the deny list at a quarter of the run and
	// measures when each replica refuses it; with faults, again at 55%,
	// after them.
	DenyProbe bool

	MaxAttempts int           // per request, as the agent's backoff
	Drain       time.Duration // after saving stops, how long to wait for feeds to catch up

	Dir         string // work folder (stack, binaries)
	Bin, Tools  string // binaries and Vault/MinIO folders ("" = build, find)
	PostgresDSN string // the replicas' database ("" = a new one, dropped after)
	Progress    io.Writer
}

func (c *Config) defaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.Agents, 20)
	def(&c.Replicas, 1)
	def(&c.MattersPerAgent, 3)
	def(&c.MembersPerMatter, 4)
	def(&c.MaxBig, 8<<20)
	def(&c.MaxAttempts, 40)
	c.MembersPerMatter = min(c.MembersPerMatter, c.Agents)
	c.MaxBig = min(max(c.MaxBig, 1<<20+1), 12<<20)
	if c.Duration <= 0 {
		c.Duration = time.Minute
	}
	if c.SaveEvery <= 0 {
		c.SaveEvery = 5 * time.Second
	}
	if c.Wait <= 0 {
		c.Wait = 30 * time.Second // what the agent asks for
	}
	if c.Drain <= 0 {
		c.Drain = time.Minute
	}
}

// commitRec is one commit the gateway acknowledged.
type commitRec struct {
	matter, file string
	version, seq int64
	agent        int
	at           time.Time
}

type matterSeq struct {
	matter string
	seq    int64
}

// runner is a run's shared state.
type runner struct {
	cfg    Config
	s      *devstack.Stack
	codec  *format.Codec
	random []byte // 16 MiB of random bytes: incompressible file content
	text   []byte // 1 MiB of words: compressible file content
	agents []*simAgent
	member map[string][]int // matter -> agent indexes

	mu      sync.Mutex // guards commits, seenAt
	commits []commitRec
	seenAt  map[matterSeq]map[int]time.Time

	requests, polls, downloaded atomic.Int64
	flooding                    atomic.Bool
	errs, retries, failed       counts // failed: gave up after retries
	events                      counts
	commitLat, commitReqLat     latencies
	floodLat, quietLat          latencies
	bytesSaved                  atomic.Int64
	fault                       atomic.Bool // a replica or PostgreSQL is being disturbed
	usage                       *usage

	probe  denyProbe
	pidsMu sync.Mutex     // guards pids
	pids   map[string]int // the servers' processes now (set by the run, read by the sampler)
}

func (r *runner) say(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "load: "+format+"\n", args...)
	}
}

func (r *runner) offset(rng *mrand.Rand, text bool, size int) int {
	pool := r.random
	if text {
		pool = r.text
	}
	return rng.IntN(len(pool) - size + 1)
}

func (r *runner) commitDone(a *simAgent, matter string, c api.Commit, size int, total, req time.Duration, at time.Time) {
	r.mu.Lock()
	r.commits = append(r.commits, commitRec{matter: matter, file: c.FileID, version: c.Version, seq: c.Seq, agent: a.idx, at: at})
	r.mu.Unlock()
	r.bytesSaved.Add(int64(size))
	r.commitLat.add(total)
	r.commitReqLat.add(req)
	if r.flooding.Load() {
		r.floodLat.add(total)
	} else if !r.fault.Load() {
		r.quietLat.add(total)
	}
}

func (r *runner) seen(agent int, matter string, seq int64, at time.Time) {
	r.mu.Lock()
	k := matterSeq{matter, seq}
	m := r.seenAt[k]
	if m == nil {
		m = map[int]time.Time{}
		r.seenAt[k] = m
	}
	if _, ok := m[agent]; !ok {
		m[agent] = at
	}
	r.mu.Unlock()
}

// notReached counts (commit, other member) pairs whose feed has not shown
// the commit yet.
func (r *runner) notReached() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.commits {
		seen := r.seenAt[matterSeq{c.matter, c.seq}]
		for _, m := range r.member[c.matter] {
			if _, ok := seen[m]; !ok && m != c.agent {
				n++
			}
		}
	}
	return n
}

// Report is what a run measured and checked.
type Report struct {
	Config                    Config
	Elapsed                   time.Duration
	Requests, Polls           int64
	Commits                   int
	BytesSaved                int64
	Downloaded                int64
	CommitLat, CommitReqLat   summary
	QuietLat, FloodLat        summary
	Propagation               summary
	SeenBeforeAck             int
	NotReached                int
	Errors, Retries, Failed   string
	FailedCount               int
	Events                    string
	Found, Lost               int
	SeqProblems               []string
	AuditIntact               bool
	AuditOut                  string
	CPU                       map[string]time.Duration
	PeakRSS                   map[string]int64
	Sampled                   time.Duration // the window CPU is measured over
	Flood                     *floodResult
	Deny                      *denyResult
	DenyAfterFaults           *denyResult // the probe again once the faults are over
	Faults                    []string
	Matters, MembersPerMatter int
}

// Run starts the production-shaped stack, creates the firm, runs the
// agents for cfg.Duration with the faults asked for, and checks what
// the store holds against what the gateway acknowledged.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if cfg.Bin == "" {
		root, err := testenv.ModuleRoot()
		if err != nil {
			return nil, err
		}
		cfg.Bin = filepath.Join(cfg.Dir, "bin")
		if err := devstack.BuildBinaries(root, cfg.Bin); err != nil {
			return nil, err
		}
	}
	if cfg.Tools == "" {
		vault, err := testenv.FindBinary("vault")
		if err != nil {
			return nil, err
		}
		cfg.Tools = filepath.Dir(vault)
	}
	if cfg.PostgresDSN == "" {
		dsn, drop, err := newDatabase(ctx)
		if err != nil {
			return nil, err
		}
		defer drop()
		cfg.PostgresDSN = dsn
	}
	// The production shape needs two replicas or more; a one-replica run
	// stops the second, so HAProxy and PostgreSQL are there as with three
	// and the figures compare.
	s, err := devstack.Start(ctx, devstack.Options{Dir: filepath.Join(cfg.Dir, "stack"), Bin: cfg.Bin, Tools: cfg.Tools,
		Replicas: max(2, cfg.Replicas), PostgresDSN: cfg.PostgresDSN, Progress: cfg.Progress})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	for _, u := range []string{"alice", "bob"} { // the demo agents: this run simulates its own
		s.StopAgent(u)
	}
	for i := cfg.Replicas; i < s.Replicas(); i++ {
		s.StopReplica(i)
	}
	codec, err := format.NewCodec()
	if err != nil {
		return nil, err
	}
	defer codec.Close()
	r := &runner{cfg: cfg, s: s, codec: codec, member: map[string][]int{}, seenAt: map[matterSeq]map[int]time.Time{}, usage: newUsage()}
	r.random = make([]byte, 16<<20)
	rand.Read(r.random)
	r.text = words(1 << 20)
	return r.run(ctx)
}

// words is n bytes of English-like text.
func words(n int) []byte {
	vocab := strings.Fields("the court held that plaintiff defendant agreement counsel party shall notwithstanding hereby pursuant section clause witness evidence motion discovery deposition exhibit claim damages contract breach liability privilege settlement hearing judge order filed served matter client letter draft review")
	rng := mrand.New(mrand.NewPCG(1, 2))
	b := make([]byte, 0, n+32)
	for len(b) < n {
		b = append(b, vocab[rng.IntN(len(vocab))]...)
		if rng.IntN(12) == 0 {
			b = append(b, ".\n"...)
		} else {
			b = append(b, ' ')
		}
	}
	return b[:n]
}

// newDatabase creates a database for the run on the machine's PostgreSQL.
func newDatabase(ctx context.Context) (string, func(), error) {
	conn, err := pgx.Connect(ctx, testenv.DefaultPostgresDSN)
	if err != nil {
		return "", nil, fmt.Errorf("load: PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	name := testenv.RandomName("mattersync_load_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, err
	}
	u, _ := url.Parse(testenv.DefaultPostgresDSN)
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, testenv.DefaultPostgresDSN); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			c.Close(ctx)
		}
	}
	return u.String(), drop, nil
}

// firm creates the users and matters in Vault, as IT would with
// mattersync-admin (kms.Admin is its Vault side), eight at a time.
func (r *runner) firm(ctx context.Context) ([]string, map[string]string, error) {
	kcfg := kms.DefaultConfig()
	kcfg.Address = r.s.VaultAddr()
	adm, err := kms.Connect(ctx, kcfg, kms.TokenAuth{Token: r.s.RootToken()})
	if err != nil {
		return nil, nil, err
	}
	defer adm.Close()
	cfg := r.cfg
	matters, member := assign(cfg.Agents, cfg.MattersPerAgent, cfg.MembersPerMatter)
	r.member = member
	pw := map[string]string{}
	names := make([]string, cfg.Agents)
	for i := range names {
		names[i] = fmt.Sprintf("lawyer-%04d", i+1)
		b := make([]byte, 12)
		rand.Read(b)
		pw[names[i]] = hex.EncodeToString(b)
	}
	b := make([]byte, 12)
	rand.Read(b)
	r.probe = denyProbe{name: "deny-probe", password: hex.EncodeToString(b)}
	var jobs []func() error
	for _, n := range names {
		jobs = append(jobs, func() error { _, err := adm.CreateUser(ctx, n, kms.UserOptions{Password: pw[n]}); return err })
	}
	if cfg.DenyProbe {
		jobs = append(jobs, func() error {
			_, err := adm.CreateUser(ctx, r.probe.name, kms.UserOptions{Password: r.probe.password})
			return err
		})
	}
	for _, m := range matters {
		jobs = append(jobs, func() error { _, err := adm.CreateMatter(ctx, m, "Load "+m, nil); return err })
	}
	if err := parallel(8, jobs); err != nil {
		return nil, nil, err
	}
	jobs = nil
	// A grant rewrites the matter group's member list: one matter's
	// grants in turn, or they overwrite each other.
	for m, list := range r.member {
		jobs = append(jobs, func() error {
			for _, a := range list {
				if _, err := adm.Grant(ctx, m, names[a], kms.RoleRW); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := parallel(8, jobs); err != nil {
		return nil, nil, err
	}
	return names, pw, nil
}

// assign shapes the firm: slot j puts agent j%agents into matter
// j/members, so every matter has consecutive agents (up to members of
// them) and every agent up to perAgent matters.
func assign(agents, perAgent, members int) ([]string, map[string][]int) {
	nm := max(1, (agents*perAgent+members-1)/members)
	matters := make([]string, nm)
	for i := range matters {
		matters[i] = fmt.Sprintf("load-%04d", i+1)
	}
	member := map[string][]int{}
	for j := range agents * perAgent {
		m, a := matters[j/members], j%agents
		if !contains(member[m], a) {
			member[m] = append(member[m], a)
		}
	}
	return matters, member
}

func contains(l []int, x int) bool {
	for _, y := range l {
		if y == x {
			return true
		}
	}
	return false
}

// parallel runs jobs on n workers and returns the first error.
func parallel(n int, jobs []func() error) error {
	ch := make(chan func() error)
	errs := make(chan error, len(jobs))
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				errs <- j()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// login makes agent i: Vault login, epoch keys of its matters, a client.
func (r *runner) login(ctx context.Context, i int, name, pw string) (*simAgent, error) {
	kcfg := kms.DefaultConfig()
	kcfg.Address = r.s.VaultAddr()
	kr, err := kms.Login(ctx, kcfg, kms.UserpassAuth{Mount: "userpass", Username: name, Password: pw})
	if err != nil {
		return nil, fmt.Errorf("login %s: %w", name, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	gw, err := client.New(r.s.GatewayURL(), kr, client.Options{Device: name + "-laptop", HTTPClient: &http.Client{Transport: countingTransport{r, tr}}})
	if err != nil {
		return nil, err
	}
	a := &simAgent{r: r, idx: i, name: name, kr: kr, gw: gw, rng: mrand.New(mrand.NewPCG(seedOf(name), uint64(i))),
		chunker: format.NewChunker(nil), dl: make(chan download, 10000)}
	for m, list := range r.member {
		if !contains(list, i) {
			continue
		}
		epoch, key, err := kr.CurrentKey(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("%s: epoch key of %s: %w", name, m, err)
		}
		k1 := key
		if epoch != 1 {
			if k1, err = kr.EpochKey(ctx, m, 1); err != nil {
				return nil, err
			}
		}
		fk, err := format.DeriveFileIDKey(m, k1)
		if err != nil {
			return nil, err
		}
		keys, err := format.DeriveKeys(fk, epoch, key)
		if err != nil {
			return nil, err
		}
		a.matters = append(a.matters, &agentMatter{id: m, keys: keys, files: map[format.ID]*simFile{}, have: map[format.ID]bool{}, own: map[fileVersion]bool{}})
	}
	return a, nil
}

func (r *runner) run(ctx context.Context) (*Report, error) {
	cfg := r.cfg
	names, pw, err := r.firm(ctx)
	if err != nil {
		return nil, fmt.Errorf("load: creating the firm in Vault: %w", err)
	}
	r.say("%d users, %d matters of up to %d members created", len(names), len(r.member), cfg.MembersPerMatter)
	r.agents = make([]*simAgent, len(names))
	var jobs []func() error
	for i, n := range names {
		jobs = append(jobs, func() (err error) { r.agents[i], err = r.login(ctx, i, n, pw[n]); return err })
	}
	if err := parallel(8, jobs); err != nil {
		return nil, err
	}
	defer func() {
		for _, a := range r.agents {
			a.kr.Close()
		}
	}()

	// Feeds and downloads run until the drain ends; saving for Duration.
	feedCtx, stopFeeds := context.WithCancel(ctx)
	defer stopFeeds()
	var feeds sync.WaitGroup
	for _, a := range r.agents {
		feeds.Add(1)
		go func() { defer feeds.Done(); a.feed(feedCtx) }()
		feeds.Add(1)
		go func() { defer feeds.Done(); a.downloads(feedCtx) }()
	}

	pg, err := r.startSampler(feedCtx)
	if err != nil {
		return nil, err
	}
	var probe *probeSession
	if cfg.DenyProbe {
		probe, err = r.openProbe(ctx, r.probe)
		if err != nil {
			probe.Close()
			return nil, fmt.Errorf("load: deny probe: %w", err)
		}
		defer probe.Close()
	}
	r.say("%d agents saving for %v (one save every %v each, on average) through %d replica(s)", len(r.agents), cfg.Duration, cfg.SaveEvery, cfg.Replicas)
	start := time.Now()
	saveCtx, stopSaving := context.WithTimeout(ctx, cfg.Duration)
	defer stopSaving()
	var savers sync.WaitGroup
	for _, a := range r.agents {
		savers.Add(1)
		go func() {
			defer savers.Done()
			for {
				d := time.Duration(a.rng.ExpFloat64() * float64(cfg.SaveEvery))
				if !sleep(saveCtx, d) {
					return
				}
				a.saveOne(saveCtx)
			}
		}()
	}
	var faults []string
	var flood *floodResult
	var floodDone sync.WaitGroup
	timeline := []struct {
		at time.Duration
		do func()
	}{}
	var deny *denyResult
	if cfg.DenyProbe {
		timeline = append(timeline, struct {
			at time.Duration
			do func()
		}{cfg.Duration / 4, func() {
			deny = r.probeDeny(ctx, probe, start)
			r.say("deny reached the replicas: %s", deny)
		}})
	}
	var denyAfter *denyResult
	if cfg.DenyProbe && (cfg.Kill || cfg.PostgresFault != "") {
		// Again after the restarted replica and PostgreSQL's drop (every
		// replica's store connections, its listening one too, cut at half
		// the run): a replica must catch up, not only stay up.
		timeline = append(timeline, struct {
			at time.Duration
			do func()
		}{cfg.Duration * 55 / 100, func() {
			denyAfter = r.probeDeny(ctx, probe, start)
			r.say("deny after the faults reached the replicas: %s", denyAfter)
		}})
	}
	if cfg.Kill {
		timeline = append(timeline, struct {
			at time.Duration
			do func()
		}{cfg.Duration / 3, func() {
			r.fault.Store(true)
			defer r.fault.Store(false)
			r.say("kill -9 replica 1")
			r.s.KillReplica(0)
			sleep(ctx, 3*time.Second)
			t := time.Now()
			if err := r.s.StartReplica(0); err != nil {
				faults = append(faults, "restarting replica 1 failed: "+err.Error())
				return
			}
			r.setPIDs()
			faults = append(faults, fmt.Sprintf("replica 1 killed with SIGKILL at %v, started again 3 s later (ready in %v)", (cfg.Duration/3).Round(time.Second), time.Since(t).Round(time.Millisecond)))
		}})
	}
	if cfg.Rolling {
		timeline = append(timeline, struct {
			at time.Duration
			do func()
		}{cfg.Duration * 4 / 10, func() {
			r.fault.Store(true)
			defer r.fault.Store(false)
			t := time.Now()
			for i := range cfg.Replicas {
				r.say("rolling restart: replica %d", i+1)
				r.s.StopReplica(i)
				if err := r.s.StartReplica(i); err != nil {
					faults = append(faults, fmt.Sprintf("rolling restart: replica %d did not start: %v", i+1, err))
					return
				}
				r.setPIDs()
				// HAProxy checks every 500 ms and takes a replica back
				// after two good checks: the next one stops only then.
				sleep(ctx, 2*time.Second)
			}
			faults = append(faults, fmt.Sprintf("rolling restart of %d replicas from %v, one at a time (took %v)", cfg.Replicas, (cfg.Duration*4/10).Round(time.Second), time.Since(t).Round(time.Millisecond)))
		}})
	}
	if cfg.PostgresFault != "" {
		timeline = append(timeline, struct {
			at time.Duration
			do func()
		}{cfg.Duration / 2, func() {
			r.fault.Store(true)
			defer r.fault.Store(false)
			msg, err := r.postgresFault(ctx, pg)
			if err != nil {
				msg = "PostgreSQL fault failed: " + err.Error()
			}
			r.say("%s", msg)
			faults = append(faults, msg)
			sleep(ctx, 2*time.Second)
		}})
	}
	if cfg.Flood > 0 {
		timeline = append(timeline, struct {
			at time.Duration
			do func()
		}{cfg.Duration * 6 / 10, func() {
			floodDone.Add(1)
			go func() {
				defer floodDone.Done()
				r.say("flood: %d bad-token requests/s for %v", cfg.Flood, cfg.Duration*3/10)
				r.flooding.Store(true)
				flood = r.flood(ctx, cfg.Flood, cfg.Duration*3/10)
				r.flooding.Store(false)
			}()
		}})
	}
	var profiled sync.WaitGroup
	if cfg.Profile != "" {
		timeline = append(timeline, struct {
			at time.Duration
			do func()
		}{profileAt(cfg), func() {
			profiled.Add(1)
			go func() {
				defer profiled.Done()
				secs := max(1, min(20, int(cfg.Duration/4/time.Second)))
				if err := r.profile(ctx, cfg.Profile, secs); err != nil {
					r.say("CPU profile failed: %v", err)
					return
				}
				r.say("CPU profile of the last replica (%d s) in %s", secs, cfg.Profile)
			}()
		}})
	}
	slices.SortStableFunc(timeline, func(a, b struct {
		at time.Duration
		do func()
	}) int {
		return cmp.Compare(a.at, b.at)
	})
	defer profiled.Wait()
	for _, ev := range timeline {
		if !sleep(saveCtx, time.Until(start.Add(ev.at))) {
			break
		}
		ev.do()
	}
	savers.Wait()
	floodDone.Wait()
	saving := time.Since(start)
	requests := r.requests.Load()
	r.say("saving stopped after %v; waiting for every member's feed to show every commit", saving.Round(time.Second))
	deadline := time.Now().Add(cfg.Drain)
	for r.notReached() > 0 && time.Now().Before(deadline) {
		sleep(ctx, 200*time.Millisecond)
	}
	stopFeeds()
	feeds.Wait()
	r.usage.sample(r.pidList(pg), false)

	rep := &Report{Config: cfg, Elapsed: saving, Requests: requests, Polls: r.polls.Load(), Downloaded: r.downloaded.Load(),
		CommitLat: r.commitLat.summary(), CommitReqLat: r.commitReqLat.summary(), QuietLat: r.quietLat.summary(), FloodLat: r.floodLat.summary(),
		Errors: r.errs.String(), Retries: r.retries.String(), Failed: r.failed.String(), FailedCount: r.failed.total(), Events: r.events.String(),
		NotReached: r.notReached(), BytesSaved: r.bytesSaved.Load(), Flood: flood, Deny: deny, DenyAfterFaults: denyAfter, Faults: faults,
		Matters: len(r.member), MembersPerMatter: cfg.MembersPerMatter}
	rep.Commits = len(r.commits)
	var prop []time.Duration
	for _, c := range r.commits {
		for a, t := range r.seenAt[matterSeq{c.matter, c.seq}] {
			if a == c.agent {
				continue
			}
			if d := t.Sub(c.at); d >= 0 {
				prop = append(prop, d)
			} else {
				prop = append(prop, 0)
				rep.SeenBeforeAck++
			}
		}
	}
	rep.Propagation = summarize(prop)
	r.usage.mu.Lock()
	rep.CPU, rep.PeakRSS, rep.Sampled = r.usage.cpu, r.usage.peak, r.usage.to.Sub(r.usage.from)
	r.usage.mu.Unlock()
	if err := r.verify(ctx, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// postgresFault drops every connection of the run's database, or
// restarts the server.
func (r *runner) postgresFault(ctx context.Context, pg *pgSampler) (string, error) {
	if r.cfg.PostgresFault == "restart" {
		out, err := exec.CommandContext(ctx, "sh", "-c", r.cfg.PostgresRestart).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s: %w: %s", r.cfg.PostgresRestart, err, out)
		}
		return "PostgreSQL restarted (" + r.cfg.PostgresRestart + ")", nil
	}
	conn, err := pgx.Connect(ctx, testenv.DefaultPostgresDSN)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", pg.db).Scan(&n); err != nil {
		return "", err
	}
	return fmt.Sprintf("PostgreSQL dropped all %d connections of the replicas' database (as a restart does)", n), nil
}

// profile writes a CPU profile of the last replica, taken over secs
// seconds, to path.
func (r *runner) profile(ctx context.Context, path string, secs int) error {
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", r.s.ReplicaOpsURL(r.s.Replicas()-1), secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profileAt is when the CPU profile starts: during the flood if there is
// one (60% to 90% of the run), else at 35%, after the faults' start.
func profileAt(cfg Config) time.Duration {
	if cfg.Flood > 0 {
		return cfg.Duration * 62 / 100
	}
	return cfg.Duration * 35 / 100
}
