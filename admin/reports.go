package admin

// Reports a compliance officer can hand over: access (breach scoping by
// user), matter (who touched what), incident (per client matter, for a
// breach notification) and access review (members, last access, grants
// never used). File names are resolved here, on the officer's machine:
// the gateway hands out sealed manifests (admin.file.get, audited) and the
// officer's Vault login unwraps the matter's keys (the compliance policy,
// audited in Vault). The gateway never sees a name. Every report carries
// the audit chain's status.

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/fault"
)

// Table is a report: a title, its parameters, the chain's status, and a
// table of rows (writers: reportout.go).
type Table struct {
	Kind      string // access, matter, incident, access-review
	Title     string
	Params    [][2]string
	Generated time.Time
	By        string // the officer's Vault user name
	Chain     ChainStatus
	Columns   []string
	Rows      [][]string
	// GroupBy is the column the PDF makes headings of (-1: none).
	GroupBy int
	Notes   []string
}

// ChainStatus is the audit chain's state when the report was made.
type ChainStatus struct {
	Verified bool   `json:"verified"` // the gateway verified it
	OK       bool   `json:"ok"`
	Records  int64  `json:"records"`
	Head     string `json:"head,omitempty"`
	// LastCheckpoint is the newest record a signed checkpoint covers.
	LastCheckpoint int64  `json:"last_checkpoint"`
	Anchors        string `json:"anchors,omitempty"`
	Problem        string `json:"problem,omitempty"`
}

// String says the status in one line.
func (c ChainStatus) String() string {
	switch {
	case !c.Verified:
		return "NOT VERIFIED: " + c.Problem
	case !c.OK:
		return fmt.Sprintf("BROKEN (%d records): %s", c.Records, c.Problem)
	}
	s := fmt.Sprintf("intact: %d records, signed checkpoints up to record %d, head %s", c.Records, c.LastCheckpoint, c.Head)
	if c.Anchors != "" {
		s += "; " + c.Anchors
	} else {
		s += "; no anchors outside the database"
	}
	return s
}

// chainStatus asks the gateway to verify the log.
func (s *Session) chainStatus(ctx context.Context) ChainStatus {
	rep, err := s.VerifyAudit(ctx, client.VerifyOptions{})
	if err != nil {
		return ChainStatus{Problem: err.Error()}
	}
	c := ChainStatus{Verified: true, OK: rep.OK, Records: rep.Records, Head: rep.Head.String(), LastCheckpoint: rep.LastCheckpoint}
	if rep.Problem != nil {
		c.Problem = fmt.Sprintf("record %d: %s", rep.Problem.Seq, rep.Problem.Reason)
		if n := len(rep.Problems) + rep.MoreProblems; n > 1 {
			c.Problem += fmt.Sprintf(" (and %d more problems: run audit verify)", n-1)
		}
	}
	if a := rep.Anchors; a != nil && len(a.Witnesses) > 0 {
		c.Anchors = fmt.Sprintf("%d of %d copies outside the database agree (%s)", a.Matched, a.Checked, strings.Join(a.Witnesses, ", "))
	}
	return c
}

// fileFetcher reads sealed manifests as an administrator.
type fileFetcher interface {
	AdminFile(ctx context.Context, matter, fileID string, version int64) (api.FileVersion, error)
}

// names resolves file IDs and chunk IDs to paths, with the matter keys the
// officer's Vault login unwraps. Keys are cleared by close.
type names struct {
	s       *Session
	gw      fileFetcher
	off     string // why names are not resolved ("" when they are)
	keys    map[string]*matterKeys
	byFile  map[string]string // matter/fileID@version -> path
	byID    map[string]string // matter/fileID -> the newest path seen
	byChunk map[string]string // matter/chunkID -> path
}

type matterKeys struct {
	err    error
	epochs map[uint32][]byte
	ids    *format.FileIDKey
	keys   map[uint32]*format.Keys
}

func (s *Session) newNames(ctx context.Context, resolve bool) *names {
	n := &names{s: s, keys: map[string]*matterKeys{}, byFile: map[string]string{}, byID: map[string]string{}, byChunk: map[string]string{}}
	switch {
	case !resolve:
		n.off = "not asked for"
	case s.Vault == nil:
		n.off = "no Vault login"
	default:
		gw, err := s.gateway(ctx)
		if err == nil {
			var ok bool
			if n.gw, ok = gw.(fileFetcher); !ok {
				err = fmt.Errorf("this gateway client cannot read manifests")
			}
		}
		if err != nil {
			n.off = err.Error()
		}
	}
	return n
}

func (n *names) close() {
	for _, k := range n.keys {
		for _, b := range k.epochs {
			clear(b)
		}
	}
}

func (n *names) matter(ctx context.Context, matter string) *matterKeys {
	if k, ok := n.keys[matter]; ok {
		return k
	}
	k := &matterKeys{keys: map[uint32]*format.Keys{}}
	n.keys[matter] = k
	k.epochs, k.err = n.s.Vault.MatterKeys(ctx, matter)
	if k.err == nil {
		if e1, ok := k.epochs[1]; ok {
			k.ids, k.err = format.DeriveFileIDKey(matter, e1)
		} else {
			k.err = fmt.Errorf("matter %s has no epoch 1 key", matter)
		}
	}
	return k
}

// file resolves a file version's path; version 0 is the head.
func (n *names) file(ctx context.Context, matter, fileID string, version int64) (string, error) {
	if n.off != "" {
		return "", fmt.Errorf("names not resolved: %s", n.off)
	}
	ck := matter + "/" + fileID + "@" + strconv.FormatInt(version, 10)
	if p, ok := n.byFile[ck]; ok {
		return p, nil
	}
	k := n.matter(ctx, matter)
	if k.err != nil {
		return "", k.err
	}
	id, err := format.ParseID(fileID)
	if err != nil {
		return "", err
	}
	fv, err := n.gw.AdminFile(ctx, matter, fileID, version)
	if err != nil {
		return "", err
	}
	if len(fv.Manifest) == 0 {
		return "", fmt.Errorf("deleted before deletes carried a manifest: name unknown")
	}
	h, err := format.ParseHeader(fv.Manifest)
	if err != nil {
		return "", err
	}
	keys := k.keys[h.Epoch]
	if keys == nil {
		ek, ok := k.epochs[h.Epoch]
		if !ok {
			return "", fmt.Errorf("no key for epoch %d", h.Epoch)
		}
		if keys, err = format.DeriveKeys(k.ids, h.Epoch, ek); err != nil {
			return "", err
		}
		k.keys[h.Epoch] = keys
	}
	m, err := keys.OpenManifest(fv.Manifest, id, uint64(fv.Version))
	if err != nil {
		return "", err
	}
	n.byFile[ck] = m.Path
	n.byFile[matter+"/"+fileID+"@"+strconv.FormatInt(fv.Version, 10)] = m.Path
	n.byID[matter+"/"+fileID] = m.Path
	for _, c := range m.Chunks {
		n.byChunk[matter+"/"+c.ID.String()] = m.Path
	}
	return m.Path, nil
}

// isID reports whether s is a 64-hex-digit ID.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// splitObject reads a file object "<file ID>[@<version>]".
func splitObject(obj string) (string, int64, bool) {
	id, v, _ := strings.Cut(obj, "@")
	if !isID(id) {
		return "", 0, false
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return id, n, true
}

// fileActions have a file object; chunkActions a chunk object.
var (
	fileActions  = map[string]bool{"file.get": true, "file.commit": true, "file.delete": true, "file.versions": true, "admin.file.get": true}
	chunkActions = map[string]bool{"chunk.get": true, "chunk.put": true, "chunk.replace": true}
)

// name is what a report shows for r's object: the file's path, the path
// of the file a chunk belongs to, or why it is not known.
func (n *names) name(ctx context.Context, r *audit.Record) string {
	if r.Matter == "" || r.Object == "" {
		return ""
	}
	switch {
	case fileActions[r.Action]:
		id, v, ok := splitObject(r.Object)
		if !ok {
			return ""
		}
		p, err := n.file(ctx, r.Matter, id, v)
		if err != nil {
			return "(unresolved: " + short(err) + ")"
		}
		return p
	case chunkActions[r.Action]:
		id, _, _ := strings.Cut(r.Object, ":")
		if p, ok := n.byChunk[r.Matter+"/"+id]; ok {
			return p + " (a chunk of)"
		}
		return ""
	}
	return ""
}

func short(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// ReportOptions select a report's records.
type ReportOptions struct {
	User, Matter string
	From, Until  time.Time
	// Names resolves file names (needs the compliance policy).
	Names bool
}

func (o ReportOptions) query() client.AuditQuery {
	return client.AuditQuery{User: o.User, Matter: o.Matter, Since: o.From, Until: o.Until}
}

func (o ReportOptions) period() string {
	until := "now"
	if !o.Until.IsZero() {
		until = o.Until.UTC().Format(time.RFC3339)
	}
	return o.From.UTC().Format(time.RFC3339) + " to " + until
}

// records reads the records of q, then resolves names in two passes: file
// objects first, so chunks can be named by the manifests read.
func (s *Session) records(ctx context.Context, q client.AuditQuery, keep func(*audit.Record) bool) ([]audit.Record, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return nil, err
	}
	var out []audit.Record
	err = gw.AuditExport(ctx, q, func(r *audit.Record) error {
		if keep == nil || keep(r) {
			out = append(out, *r)
		}
		return nil
	})
	return out, err
}

func (s *Session) newTable(ctx context.Context, kind, title string, params [][2]string) Table {
	t := Table{Kind: kind, Title: title, Params: params, Generated: time.Now().UTC(), GroupBy: -1, Chain: s.chainStatus(ctx)}
	if s.Vault != nil {
		if tc, err := s.Vault.IdentityToken(ctx); err == nil {
			t.By = tc.Username
		}
	}
	return t
}

// matterName is a matter's display name, "" if unknown.
func (s *Session) matterName(ctx context.Context, cache map[string]string, m string) string {
	if n, ok := cache[m]; ok {
		return n
	}
	var name string
	if s.Vault != nil {
		if mi, err := s.Vault.Matter(ctx, m); err == nil {
			name = mi.Name
		}
	}
	cache[m] = name
	return name
}

// activityTable fills t with one row a record.
func (s *Session) activityTable(ctx context.Context, t *Table, recs []audit.Record, names *names) {
	for i := range recs {
		if fileActions[recs[i].Action] {
			names.name(ctx, &recs[i])
		}
	}
	mn := map[string]string{}
	t.Columns = []string{"time", "matter", "matter_name", "user", "device", "source", "action", "file", "object", "result", "bytes", "seq"}
	for i := range recs {
		r := &recs[i]
		t.Rows = append(t.Rows, []string{r.Time.UTC().Format(time.RFC3339), r.Matter, s.matterName(ctx, mn, r.Matter), r.User, r.Device, r.Source,
			r.Action, names.name(ctx, r), r.Object, r.Result, strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(r.Seq, 10)})
	}
	names.note(t)
}

// note adds to t why names are missing, if they are.
func (n *names) note(t *Table) {
	if n.off != "" {
		t.Notes = append(t.Notes, "file names not resolved: "+n.off)
	}
	ms := make([]string, 0, len(n.keys))
	for m := range n.keys {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	for _, m := range ms {
		if err := n.keys[m].err; err != nil {
			t.Notes = append(t.Notes, "file names of matter "+m+" not resolved: "+err.Error())
		}
	}
}

// AccessReport is every record of a user in a period, with file names:
// breach scoping.
func (s *Session) AccessReport(ctx context.Context, o ReportOptions) (Table, error) {
	if o.User == "" || o.From.IsZero() {
		return Table{}, fault.Errorf(fault.Invalid, "an access report needs a user and a start time")
	}
	recs, err := s.records(ctx, o.query(), nil)
	if err != nil {
		return Table{}, err
	}
	if len(recs) == 0 {
		if err := s.requireQueryUser(ctx, o.query()); err != nil {
			return Table{}, err
		}
	}
	t := s.newTable(ctx, "access", "Access report: "+o.User+", "+o.period(), [][2]string{{"user", o.User}, {"from", o.From.UTC().Format(time.RFC3339)}, {"until", untilText(o.Until)}})
	names := s.newNames(ctx, o.Names)
	defer names.close()
	s.activityTable(ctx, &t, recs, names)
	return t, nil
}

// MatterReport is every record of a matter in a period: who touched what.
func (s *Session) MatterReport(ctx context.Context, o ReportOptions) (Table, error) {
	if o.Matter == "" || o.From.IsZero() {
		return Table{}, fault.Errorf(fault.Invalid, "a matter report needs a matter and a start time")
	}
	if s.Vault != nil {
		if err := s.RequireMatter(ctx, o.Matter); err != nil {
			return Table{}, err
		}
	}
	recs, err := s.records(ctx, o.query(), nil)
	if err != nil {
		return Table{}, err
	}
	t := s.newTable(ctx, "matter", "Matter report: "+o.Matter+", "+o.period(), [][2]string{{"matter", o.Matter}, {"from", o.From.UTC().Format(time.RFC3339)}, {"until", untilText(o.Until)}})
	names := s.newNames(ctx, o.Names)
	defer names.close()
	s.activityTable(ctx, &t, recs, names)
	return t, nil
}

func untilText(t time.Time) string {
	if t.IsZero() {
		return "now"
	}
	return t.UTC().Format(time.RFC3339)
}

// IncidentReport is, per client matter, what a user read, wrote and
// deleted in a period, file by file, with first and last time: ready to
// attach to a breach notification.
func (s *Session) IncidentReport(ctx context.Context, o ReportOptions) (Table, error) {
	if o.User == "" || o.From.IsZero() {
		return Table{}, fault.Errorf(fault.Invalid, "an incident report needs a user and a start time")
	}
	recs, err := s.records(ctx, o.query(), func(r *audit.Record) bool { return r.Matter != "" })
	if err != nil {
		return Table{}, err
	}
	if len(recs) == 0 {
		if err := s.requireQueryUser(ctx, o.query()); err != nil {
			return Table{}, err
		}
	}
	t := s.newTable(ctx, "incident", "Incident report: "+o.User+", "+o.period(), [][2]string{{"user", o.User}, {"from", o.From.UTC().Format(time.RFC3339)}, {"until", untilText(o.Until)}})
	names := s.newNames(ctx, o.Names)
	defer names.close()
	for i := range recs {
		if fileActions[recs[i].Action] {
			names.name(ctx, &recs[i])
		}
	}
	type key struct{ matter, file string }
	type agg struct {
		first, last   time.Time
		actions       map[string]int
		read, written int64
		refused       int
	}
	by := map[key]*agg{}
	var order []key
	for i := range recs {
		r := &recs[i]
		f := names.name(ctx, r)
		if f == "" {
			switch {
			case fileActions[r.Action] || chunkActions[r.Action]:
				f = "(object " + r.Object + ")"
			default:
				f = "(matter: " + r.Action + ")"
			}
		}
		f = strings.TrimSuffix(f, " (a chunk of)")
		k := key{r.Matter, f}
		a := by[k]
		if a == nil {
			a = &agg{first: r.Time, actions: map[string]int{}}
			by[k] = a
			order = append(order, k)
		}
		a.last = r.Time
		if r.Result != audit.ResultOK {
			a.refused++
			continue
		}
		a.actions[r.Action]++
		switch {
		case r.Action == "chunk.get" || r.Action == "file.get":
			a.read += r.Bytes
		case r.Action == "chunk.put" || r.Action == "file.commit":
			a.written += r.Bytes
		}
	}
	slices.SortStableFunc(order, func(a, b key) int {
		if c := strings.Compare(a.matter, b.matter); c != 0 {
			return c
		}
		return strings.Compare(a.file, b.file)
	})
	mn := map[string]string{}
	t.Columns = []string{"matter", "matter_name", "file", "first", "last", "actions", "bytes_read", "bytes_written", "refused"}
	t.GroupBy = 0
	for _, k := range order {
		a := by[k]
		var acts []string
		for act, n := range a.actions {
			acts = append(acts, fmt.Sprintf("%s=%d", act, n))
		}
		slices.Sort(acts)
		t.Rows = append(t.Rows, []string{k.matter, s.matterName(ctx, mn, k.matter), k.file, a.first.UTC().Format(time.RFC3339), a.last.UTC().Format(time.RFC3339),
			strings.Join(acts, " "), strconv.FormatInt(a.read, 10), strconv.FormatInt(a.written, 10), strconv.Itoa(a.refused)})
	}
	names.note(&t)
	return t, nil
}

// AccessReview is, per matter, its members and screened users now, their
// role, their last access in the period, and the grants never used in it:
// the periodic least-privilege review.
func (s *Session) AccessReview(ctx context.Context, o ReportOptions) (Table, error) {
	if s.Vault == nil {
		return Table{}, fault.Errorf(fault.Invalid, "an access review needs a Vault login (membership)")
	}
	if o.From.IsZero() {
		return Table{}, fault.Errorf(fault.Invalid, "an access review needs a start time")
	}
	var matters []string
	if o.Matter != "" {
		if err := s.RequireMatter(ctx, o.Matter); err != nil {
			return Table{}, err
		}
		matters = []string{o.Matter}
	} else {
		all, err := s.Vault.ListMatters(ctx)
		if err != nil {
			return Table{}, err
		}
		for _, m := range all {
			if m.Shredded == "" {
				matters = append(matters, m.ID)
			}
		}
	}
	type key struct{ entity, matter string }
	last := map[key]time.Time{}
	want := map[string]bool{}
	for _, m := range matters {
		want[m] = true
	}
	_, err := s.records(ctx, client.AuditQuery{Matter: o.Matter, Since: o.From, Until: o.Until}, func(r *audit.Record) bool {
		if want[r.Matter] && r.Result == audit.ResultOK && (fileActions[r.Action] || chunkActions[r.Action] || r.Action == "changes") {
			last[key{r.Entity, r.Matter}] = r.Time
		}
		return false
	})
	if err != nil {
		return Table{}, err
	}
	t := s.newTable(ctx, "access-review", "Access review, "+o.period(), [][2]string{{"from", o.From.UTC().Format(time.RFC3339)}, {"until", untilText(o.Until)}, {"matter", firstNonEmpty(o.Matter, "all")}})
	t.Columns = []string{"matter", "matter_name", "user", "role", "status", "last_access", "unused_grant"}
	t.GroupBy = 0
	mn := map[string]string{}
	unused := 0
	for _, m := range matters {
		members, err := s.Vault.Members(ctx, m)
		if err != nil {
			return Table{}, err
		}
		for _, mem := range members {
			la, seen := last[key{mem.EntityID, m}]
			lastText, unusedText, status := "never in the period", "", "active"
			if seen {
				lastText = la.UTC().Format(time.RFC3339)
			}
			if mem.Disabled {
				status = "revoked"
			}
			if !seen && (mem.Role == "rw" || mem.Role == "ro") && !mem.Disabled {
				unusedText = "yes"
				unused++
			}
			t.Rows = append(t.Rows, []string{m, s.matterName(ctx, mn, m), mem.User, string(mem.Role), status, lastText, unusedText})
		}
	}
	t.Notes = append(t.Notes, fmt.Sprintf("%d grants not used in the period: review whether they are still needed (least privilege)", unused))
	return t, nil
}
