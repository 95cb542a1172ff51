// Package alerts evaluates rules on the audit stream and delivers what they
// find: a mass download, activity outside working hours, the first access
// to a matter in 90 days, repeated denials, an attempt against an ethical
// wall, a request from a revoked user's device, an integrity event. The
// gateway feeds it every record of the chain (all replicas' records, read
// from the store in order), audits each alert, counts it, and hands it to
// the sinks (an HMAC-signed webhook with retries, RFC 5424 syslog), which
// never block a request.
//
// Rules read time from the records, so a scripted day gives the same
// alerts whenever it is replayed (rules_test.go).
package alerts

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
)

// Rules.
const (
	RuleMassDownload  = "mass_download"
	RuleOffHours      = "off_hours"
	RuleFirstAccess   = "first_access"
	RuleDenials       = "repeated_denials"
	RuleWallAttempt   = "wall_attempt"
	RuleRevokedDevice = "revoked_device"
	RuleIntegrity     = "integrity"
	RuleShareCodes    = "share_codes"
)

// Markers the gateway puts in a refused request's audit object, so the
// rules can tell a wall or a revocation from another refusal.
const (
	ObjectWall    = "deny:wall"
	ObjectRevoked = "deny:revoked"
	// ObjectCodeCap starts the share.revoke of a link whose wrong codes
	// reached their cap over its life (sharing.codes.wrong_per_share_total).
	ObjectCodeCap = "codes:cap"
)

// Severities.
const (
	Warning  = "warning"
	Critical = "critical"
)

// Alert is what a rule found.
type Alert struct {
	ID       string    `json:"id"` // <rule>-<record>: unique per gateway chain
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"`
	Time     time.Time `json:"time"` // of the record that fired it
	Entity   string    `json:"entity,omitempty"`
	User     string    `json:"user,omitempty"`
	Device   string    `json:"device,omitempty"`
	Source   string    `json:"source,omitempty"`
	Matter   string    `json:"matter,omitempty"`
	Summary  string    `json:"summary"`
	// Records are the audit records behind it (sequence numbers, at most
	// 20: the first ones and the last).
	Records []int64 `json:"records,omitempty"`
	Count   int     `json:"count,omitempty"`
	Bytes   int64   `json:"bytes,omitempty"`
}

// History answers the first-access rule from the audit log.
type History interface {
	// Accessed reports whether entity touched matter (an allowed read or
	// write) at a time in [since, before).
	Accessed(ctx context.Context, entity, matter string, since, before time.Time) (bool, error)
	// Oldest is the time of the log's first record (zero if empty).
	Oldest(ctx context.Context) (time.Time, error)
}

// Config holds the rules' thresholds and the sinks (gateway config
// audit.alerts, defaults from DefaultConfig).
type Config struct {
	Enabled bool `yaml:"enabled"`
	// Poll is how often the gateway reads new records from the store.
	Poll         time.Duration `yaml:"poll"`
	MassDownload MassDownload  `yaml:"mass_download"`
	OffHours     OffHours      `yaml:"off_hours"`
	FirstAccess  FirstAccess   `yaml:"first_access"`
	Denials      Denials       `yaml:"denials"`
	// Cooldown: after a wall attempt, a revoked device or off-hours
	// activity, the same user (and matter, device) does not fire the same
	// rule again for this long.
	Cooldown time.Duration `yaml:"cooldown"`
	Webhook  WebhookConfig `yaml:"webhook"`
	Syslog   SyslogConfig  `yaml:"syslog"`
}

// MassDownload fires when one user downloads more than Files files or
// more than MiB MiB from one matter within Window.
type MassDownload struct {
	Files  int           `yaml:"files"`
	MiB    int64         `yaml:"mib"`
	Window time.Duration `yaml:"window"`
}

// OffHours fires on a user's access outside Start..End (local to
// TimeZone) on Days, or on any other day; once per Cooldown per user.
type OffHours struct {
	Enabled  bool     `yaml:"enabled"`
	Start    string   `yaml:"start"` // "07:00"
	End      string   `yaml:"end"`   // "20:00"
	Days     []string `yaml:"days"`  // mon, tue, ...
	TimeZone string   `yaml:"time_zone"`
}

// FirstAccess fires on a user's access to a matter they did not touch in
// Lookback (and the log is older than that, so it can be known).
type FirstAccess struct {
	Enabled  bool          `yaml:"enabled"`
	Lookback time.Duration `yaml:"lookback"`
}

// Denials fires when one user (or one address, before authentication) is
// refused more than Count times within Window.
type Denials struct {
	Count  int           `yaml:"count"`
	Window time.Duration `yaml:"window"`
}

// DefaultConfig is the rules' defaults (alerts off until enabled).
func DefaultConfig() Config {
	return Config{
		Poll:         time.Second,
		MassDownload: MassDownload{Files: 200, MiB: 2048, Window: 15 * time.Minute},
		OffHours:     OffHours{Enabled: true, Start: "07:00", End: "20:00", Days: []string{"mon", "tue", "wed", "thu", "fri"}, TimeZone: "UTC"},
		FirstAccess:  FirstAccess{Enabled: true, Lookback: 90 * 24 * time.Hour},
		Denials:      Denials{Count: 20, Window: 5 * time.Minute},
		Cooldown:     time.Hour,
		Webhook:      WebhookConfig{SecretEnv: "MATTERSYNC_ALERT_WEBHOOK_SECRET", Timeout: 10 * time.Second, MaxAttempts: 10},
		Syslog:       SyslogConfig{Network: "tcp", AppName: "mattersync-gateway", Facility: 13},
	}
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func clock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	return hh*60 + mm, nil
}

// Validate reports every problem with c.
func (c *Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Poll < 100*time.Millisecond || c.Poll > time.Minute {
		bad("poll must be between 100ms and 1m")
	}
	if m := c.MassDownload; m.Files < 1 || m.MiB < 1 || m.Window < time.Minute || m.Window > 24*time.Hour {
		bad("mass_download: files and mib must be positive and window between 1m and 24h")
	}
	if o := c.OffHours; o.Enabled {
		s, err1 := clock(o.Start)
		e, err2 := clock(o.End)
		if err1 != nil || err2 != nil || s >= e {
			bad("off_hours: start and end must be HH:MM with start before end")
		}
		for _, d := range o.Days {
			if _, ok := weekdays[strings.ToLower(d)]; !ok {
				bad("off_hours: day %q is not mon, tue, wed, thu, fri, sat or sun", d)
			}
		}
		if _, err := time.LoadLocation(o.TimeZone); err != nil {
			bad("off_hours: time_zone %q: %v", o.TimeZone, err)
		}
	}
	if f := c.FirstAccess; f.Enabled && (f.Lookback < time.Hour || f.Lookback > 3*365*24*time.Hour) {
		bad("first_access: lookback must be between 1h and 3 years")
	}
	if d := c.Denials; d.Count < 1 || d.Window < time.Second || d.Window > 24*time.Hour {
		bad("denials: count must be positive and window between 1s and 24h")
	}
	if c.Cooldown < 0 || c.Cooldown > 24*time.Hour {
		bad("cooldown must be between 0 and 24h")
	}
	if err := c.Webhook.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Syslog.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Reads and writes: the actions that touch a matter's content.
var (
	reads  = map[string]bool{"chunk.get": true, "file.get": true}
	writes = map[string]bool{"chunk.put": true, "file.commit": true, "file.delete": true}
)

// event is one record in a window.
type event struct {
	t     time.Time
	seq   int64
	bytes int64
	file  string // a file download's object, "" otherwise
}

// window is a sliding window of events.
type window struct {
	evs   []event
	until time.Time // fired: quiet until then
}

func (w *window) prune(now time.Time, d time.Duration) {
	i := 0
	for i < len(w.evs) && now.Sub(w.evs[i].t) > d {
		i++
	}
	w.evs = w.evs[i:]
}

func (w *window) seqs() []int64 {
	var out []int64
	for i, e := range w.evs {
		if i < 19 || i == len(w.evs)-1 {
			out = append(out, e.seq)
		}
	}
	return out
}

type pair struct{ entity, matter string }

// Engine applies the rules to records in chain order. It is not safe for
// concurrent use: the gateway feeds it from one goroutine.
type Engine struct {
	cfg        Config
	hist       History
	loc        *time.Location
	start, end int
	days       map[time.Weekday]bool

	downloads map[pair]*window
	denials   map[string]*window
	lastSeen  map[pair]time.Time // first access: last access seen
	quiet     map[string]time.Time
	oldest    time.Time
	n         int
}

// New returns an engine for cfg (validated); hist answers the first-access
// rule (nil disables it).
func New(cfg Config, hist History) (*Engine, error) {
	cfg.Enabled = true
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, hist: hist, days: map[time.Weekday]bool{}, downloads: map[pair]*window{}, denials: map[string]*window{},
		lastSeen: map[pair]time.Time{}, quiet: map[string]time.Time{}}
	e.loc, _ = time.LoadLocation(cfg.OffHours.TimeZone)
	e.start, _ = clock(cfg.OffHours.Start)
	e.end, _ = clock(cfg.OffHours.End)
	for _, d := range cfg.OffHours.Days {
		e.days[weekdays[strings.ToLower(d)]] = true
	}
	return e, nil
}

func newAlert(rule, severity string, r *audit.Record, summary string) Alert {
	return Alert{ID: rule + "-" + strconv.FormatInt(r.Seq, 10), Rule: rule, Severity: severity, Time: r.Time, Entity: r.Entity, User: r.User,
		Device: r.Device, Source: r.Source, Matter: r.Matter, Summary: summary, Records: []int64{r.Seq}}
}

func who(r *audit.Record) string {
	switch {
	case r.User != "":
		return r.User
	case r.Entity != "":
		return r.Entity
	}
	return "an unauthenticated caller from " + r.Source
}

// quietFor reports whether key fired within the cooldown before t, and
// starts a cooldown if not.
func (e *Engine) quietFor(key string, t time.Time, d time.Duration) bool {
	if until, ok := e.quiet[key]; ok && t.Before(until) {
		return true
	}
	e.quiet[key] = t.Add(d)
	return false
}

// Observe applies every rule to r, the next record of the chain, and
// returns what fired. Alert records themselves are ignored.
func (e *Engine) Observe(ctx context.Context, r *audit.Record) []Alert {
	if strings.HasPrefix(r.Action, "alert.") {
		return nil
	}
	e.n++
	if e.n%10_000 == 0 {
		e.sweep(r.Time)
	}
	var out []Alert
	ok := r.Result == audit.ResultOK
	access := ok && r.Matter != "" && (reads[r.Action] || writes[r.Action])
	// Once per cooldown per user, matter and kind: any member may report
	// integrity events, and a flood of reports must not bury other alerts
	// (each report is still its own audit record).
	if ok && (r.Action == "chunk.replace" || strings.HasPrefix(r.Action, "integrity.") && r.Action != "integrity.resync") &&
		!e.quietFor(RuleIntegrity+"/"+r.Entity+"/"+r.Matter+"/"+r.Action, r.Time, e.cfg.Cooldown) {
		out = append(out, newAlert(RuleIntegrity, Critical, r, fmt.Sprintf("integrity event %s on matter %s by %s (device %q): %s", r.Action, r.Matter, who(r), r.Device, r.Object)))
	}
	if ok && (r.Action == "share.revoke" || r.Action == "request.revoke") && strings.HasPrefix(r.Object, ObjectCodeCap+" ") {
		// Someone holding the link may be guessing codes: the creator
		// (named in the object) should hear of it and share again.
		// A file request's link is guarded by the same codes.
		out = append(out, newAlert(RuleShareCodes, Warning, r, fmt.Sprintf("a %s link of matter %s was revoked after too many wrong codes: %s",
			strings.TrimSuffix(r.Action, ".revoke"), r.Matter, strings.TrimPrefix(r.Object, ObjectCodeCap+" "))))
	}
	if r.Result == audit.ResultDenied {
		// A revoked device's report keeps the marker first and adds
		// what it reported ("deny:revoked device=… wiped=…").
		obj := r.Object
		if strings.HasPrefix(obj, ObjectRevoked+" ") {
			obj = ObjectRevoked
		}
		switch obj {
		case ObjectWall:
			if !e.quietFor(RuleWallAttempt+"/"+r.Entity+"/"+r.Matter, r.Time, e.cfg.Cooldown) {
				out = append(out, newAlert(RuleWallAttempt, Critical, r, fmt.Sprintf("%s, screened from matter %s (ethical wall), tried %s", who(r), r.Matter, r.Action)))
			}
		case ObjectRevoked:
			if !e.quietFor(RuleRevokedDevice+"/"+r.Entity+"/"+r.Device, r.Time, e.cfg.Cooldown) {
				out = append(out, newAlert(RuleRevokedDevice, Critical, r, fmt.Sprintf("a request from revoked user %s, device %q, address %s (%s)", who(r), r.Device, r.Source, r.Action)))
			}
		}
		if a, fired := e.denied(r); fired {
			out = append(out, a)
		}
	}
	if access {
		if a, fired := e.download(r); fired {
			out = append(out, a)
		}
		if a, fired := e.offHours(r); fired {
			out = append(out, a)
		}
		if a, fired := e.firstAccess(ctx, r); fired {
			out = append(out, a)
		}
	}
	return out
}

func (e *Engine) denied(r *audit.Record) (Alert, bool) {
	key := "entity:" + r.Entity
	if r.Entity == "" {
		key = "source:" + r.Source
	}
	w := e.denials[key]
	if w == nil {
		w = &window{}
		e.denials[key] = w
	}
	d := e.cfg.Denials
	w.prune(r.Time, d.Window)
	w.evs = append(w.evs, event{t: r.Time, seq: r.Seq})
	if len(w.evs) <= d.Count || r.Time.Before(w.until) {
		return Alert{}, false
	}
	a := newAlert(RuleDenials, Warning, r, fmt.Sprintf("%s was refused %d times within %s (last: %s on %s, status %d)", who(r), len(w.evs), d.Window, r.Action, firstNonEmpty(r.Matter, "-"), r.Status))
	a.Records, a.Count = w.seqs(), len(w.evs)
	w.until = r.Time.Add(d.Window)
	w.evs = nil
	return a, true
}

func (e *Engine) download(r *audit.Record) (Alert, bool) {
	if !reads[r.Action] {
		return Alert{}, false
	}
	k := pair{r.Entity, r.Matter}
	w := e.downloads[k]
	if w == nil {
		w = &window{}
		e.downloads[k] = w
	}
	m := e.cfg.MassDownload
	w.prune(r.Time, m.Window)
	ev := event{t: r.Time, seq: r.Seq, bytes: r.Bytes}
	if r.Action == "file.get" {
		ev.file = r.Object
	}
	w.evs = append(w.evs, ev)
	files := map[string]bool{}
	var bytes int64
	for _, x := range w.evs {
		if x.file != "" {
			files[x.file] = true
		}
		bytes += x.bytes
	}
	if r.Time.Before(w.until) || (len(files) <= m.Files && bytes <= m.MiB<<20) {
		return Alert{}, false
	}
	a := newAlert(RuleMassDownload, Critical, r, fmt.Sprintf("%s downloaded %d files, %.1f MiB from matter %s within %s (limits %d files, %d MiB)",
		who(r), len(files), float64(bytes)/(1<<20), r.Matter, m.Window, m.Files, m.MiB))
	a.Records, a.Count, a.Bytes = w.seqs(), len(files), bytes
	w.until = r.Time.Add(m.Window)
	w.evs = nil
	return a, true
}

func (e *Engine) offHours(r *audit.Record) (Alert, bool) {
	o := e.cfg.OffHours
	if !o.Enabled {
		return Alert{}, false
	}
	t := r.Time.In(e.loc)
	min := t.Hour()*60 + t.Minute()
	if e.days[t.Weekday()] && min >= e.start && min < e.end {
		return Alert{}, false
	}
	if e.quietFor(RuleOffHours+"/"+r.Entity, r.Time, e.cfg.Cooldown) {
		return Alert{}, false
	}
	return newAlert(RuleOffHours, Warning, r, fmt.Sprintf("%s used matter %s (%s) at %s, outside working hours (%s to %s on %s, %s)",
		who(r), r.Matter, r.Action, t.Format("Mon 2006-01-02 15:04"), o.Start, o.End, strings.Join(o.Days, ","), o.TimeZone)), true
}

func (e *Engine) firstAccess(ctx context.Context, r *audit.Record) (Alert, bool) {
	f := e.cfg.FirstAccess
	if !f.Enabled || e.hist == nil || r.Entity == "" {
		return Alert{}, false
	}
	k := pair{r.Entity, r.Matter}
	last, seen := e.lastSeen[k]
	e.lastSeen[k] = r.Time
	if seen && r.Time.Sub(last) < f.Lookback {
		return Alert{}, false
	}
	since := r.Time.Add(-f.Lookback)
	if e.oldest.IsZero() {
		o, err := e.hist.Oldest(ctx)
		if err != nil {
			return Alert{}, false
		}
		e.oldest = o
	}
	if e.oldest.IsZero() || e.oldest.After(since) {
		// The log does not reach back far enough to know.
		return Alert{}, false
	}
	if !seen {
		before, err := e.hist.Accessed(ctx, r.Entity, r.Matter, since, r.Time)
		if err != nil || before {
			return Alert{}, false
		}
	}
	return newAlert(RuleFirstAccess, Warning, r, fmt.Sprintf("%s opened matter %s (%s), which they had not touched in %s", who(r), r.Matter, r.Action, days(f.Lookback))), true
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return d.String()
}

// sweep forgets windows and cooldowns that ended before now.
func (e *Engine) sweep(now time.Time) {
	for k, w := range e.downloads {
		w.prune(now, e.cfg.MassDownload.Window)
		if len(w.evs) == 0 && now.After(w.until) {
			delete(e.downloads, k)
		}
	}
	for k, w := range e.denials {
		w.prune(now, e.cfg.Denials.Window)
		if len(w.evs) == 0 && now.After(w.until) {
			delete(e.denials, k)
		}
	}
	for k, until := range e.quiet {
		if now.After(until) {
			delete(e.quiet, k)
		}
	}
	for k, t := range e.lastSeen {
		if now.Sub(t) > e.cfg.FirstAccess.Lookback {
			delete(e.lastSeen, k)
		}
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
