package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"
)

// Kinds of Problem. A verification names each kind of damage it finds, with
// the records it concerns.
const (
	// ProblemMissing: records Seq..To are gone from the middle of the
	// chain (the next record is To+1).
	ProblemMissing = "missing"
	// ProblemModified: records whose hash does not match their content.
	ProblemModified = "modified"
	// ProblemUnlinked: records that do not link to the record before them
	// (inserted, reordered, or the previous record was replaced).
	ProblemUnlinked = "unlinked"
	// ProblemCheckpoint: a checkpoint in the database that does not verify
	// (bad signature, unknown key) or does not match its record.
	ProblemCheckpoint = "checkpoint"
	// ProblemCheckpointMissing: checkpoints deleted from the database
	// (named by the next checkpoint's link, or by an anchor).
	ProblemCheckpointMissing = "checkpoint_missing"
	// ProblemTruncated: records after the database's last one (Seq-1) up to
	// To are covered by a signed checkpoint: the newest records were
	// deleted, or an older copy of the database was restored.
	ProblemTruncated = "truncated"
	// ProblemRewritten: records that differ from a signed checkpoint held
	// outside the database (an anchor, or --expect-checkpoint): the chain
	// was rewritten, or an older copy restored and written to.
	ProblemRewritten = "rewritten"
	// ProblemUncovered: records not covered by any checkpoint for longer
	// than a signing gateway allows.
	ProblemUncovered = "uncovered"
	// ProblemExpected: an --expect-checkpoint that is not in the log.
	ProblemExpected = "expected"
)

// Problem is one kind of damage over a range of records.
type Problem struct {
	Seq int64 `json:"seq"`
	// To is the last record of the range (equal to Seq for one record).
	To   int64  `json:"to,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Count is how many findings were merged into this one (records,
	// checkpoints or anchors, per Kind).
	Count  int    `json:"count,omitempty"`
	Reason string `json:"reason"`
}

// AnchorStatus says what the verification compared with the copies of
// checkpoints held outside the database.
type AnchorStatus struct {
	// Witnesses names where the copies were read (S3 bucket and prefix,
	// Vault path).
	Witnesses []string `json:"witnesses"`
	// Checked is how many copies were compared; Matched how many agree
	// with the database's records.
	Checked int64 `json:"checked"`
	Matched int64 `json:"matched"`
	// Newest is the highest record an anchor covers, and NewestWhere where
	// that copy is.
	Newest      int64  `json:"newest"`
	NewestWhere string `json:"newest_where,omitempty"`
	// Unanchored counts database checkpoints at or below Newest with no
	// copy outside (anchor writes that failed); Pending those above it
	// (not anchored yet).
	Unanchored int64 `json:"unanchored,omitempty"`
	Pending    int64 `json:"pending,omitempty"`
}

// Report is the outcome of Verify.
type Report struct {
	OK          bool  `json:"ok"`
	Records     int64 `json:"records"`
	Head        Hash  `json:"head"`
	Checkpoints int   `json:"checkpoints"`
	// LastCheckpoint is the highest record covered by a valid checkpoint:
	// records after it are protected by the links alone, so a truncated
	// tail is only caught once a later checkpoint exists.
	LastCheckpoint int64 `json:"last_checkpoint"`
	// LastCheckpointTime is when that checkpoint was signed.
	LastCheckpointTime time.Time `json:"last_checkpoint_time,omitzero"`
	// Problem is the problem at the lowest record (Problems[0] when sorted
	// by record), kept for older clients.
	Problem *Problem `json:"problem,omitempty"`
	// Problems lists every problem found, in the order found, merged into
	// ranges; at most VerifyOptions.MaxProblems, MoreProblems counts the
	// rest.
	Problems     []Problem     `json:"problems,omitempty"`
	MoreProblems int           `json:"more_problems,omitempty"`
	Anchors      *AnchorStatus `json:"anchors,omitempty"`
	// Warnings do not make the log broken (e.g. an object in the anchor
	// store that no trusted key signed).
	Warnings []string `json:"warnings,omitempty"`
}

// Source yields the whole chain in ascending sequence order, and the
// checkpoints. Both stores and a JSON-lines export implement it.
type Source interface {
	RecordSource
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// CheckpointStreamer streams checkpoints in ascending Seq order. Verify
// uses it instead of Source.Checkpoints when the source has it, so memory
// stays constant however many checkpoints there are.
type CheckpointStreamer interface {
	EachCheckpoint(ctx context.Context, fn func(*Checkpoint) error) error
}

// RecordSource yields audit records.
type RecordSource interface {
	AuditRecords(ctx context.Context, q Query, fn func(*Record) error) error
}

// Query selects audit records. Zero fields do not filter. Records come in
// ascending Seq order.
type Query struct {
	AfterSeq int64 // only records with Seq > AfterSeq
	Since    int64 // Unix microseconds, inclusive
	Until    int64 // Unix microseconds, exclusive
	Matter   string
	User     string
	Entity   string
	// Actions, if set, keeps only records of these actions; Result only
	// records with this result.
	Actions []string
	Result  string
	Limit   int
}

// Witnessed is a checkpoint held outside the database: what the copy
// says (record Seq had hash Hash) and where it is.
type Witnessed struct {
	Seq  int64
	Hash Hash
	// Where names the copy for a report, e.g. s3://bucket/key or vault:path.
	Where string
	// Stored is when the outside store took the copy (zero if unknown).
	Stored time.Time
	// Checkpoint is the signed checkpoint, if the witness read it;
	// otherwise Open reads it (only the copies that disagree with the
	// database, or lie beyond it, are read).
	Checkpoint *Checkpoint
	Open       func(ctx context.Context) (Checkpoint, error)
}

// open returns the signed checkpoint of w.
func (w *Witnessed) open(ctx context.Context) (Checkpoint, error) {
	if w.Checkpoint != nil {
		return *w.Checkpoint, nil
	}
	if w.Open == nil {
		return Checkpoint{}, errors.New("no checkpoint")
	}
	return w.Open(ctx)
}

// Witness is a store of checkpoint copies outside the database (the S3
// anchors under Object Lock, the head in Vault).
type Witness interface {
	// Name says where the copies are, for a report.
	Name() string
	// Witnessed calls fn for every copy in ascending Seq order (several
	// copies of one Seq may follow each other).
	Witnessed(ctx context.Context, fn func(*Witnessed) error) error
}

// VerifyOptions add the checks that need more than the chain itself.
type VerifyOptions struct {
	// CheckpointInterval is how often the gateway signs checkpoints. When
	// set, Verify also fails if checkpoints are missing where a signing
	// gateway would have made them: no checkpoint at all while the records
	// span more than 2 intervals, or records not covered by any checkpoint
	// spanning more than MaxCheckpointAge (both measured against the newest
	// record's time, so a backup verifies the same any day).
	CheckpointInterval time.Duration
	// MaxCheckpointAge defaults to 5 intervals.
	MaxCheckpointAge time.Duration
	// Expect are checkpoints known from outside the database (the SIEM's
	// copies of the gateway's "audit checkpoint signed" log lines): each
	// must be stored, validly signed, and match its record.
	Expect []Anchor
	// Witnesses hold copies of the checkpoints outside the database: every
	// copy signed by a trusted key must match the database's record and
	// checkpoint.
	Witnesses []Witness
	// Progress, if set, is called about every 100,000 records with the
	// records read and the head's sequence number (0 if unknown).
	Progress func(done, total int64)
	// ProgressTotal is the total passed to Progress.
	ProgressTotal int64
	// MaxProblems bounds Report.Problems (default 100).
	MaxProblems int
}

// DefaultMaxAge is MaxCheckpointAge when it is not set: 5 intervals.
func DefaultMaxAge(interval time.Duration) time.Duration { return 5 * interval }

// Verify walks the whole chain of src and checks every link and every
// checkpoint against the trusted keys, the checkpoints' own chain, the
// copies held by opts.Witnesses, and the rules of opts. It reads records,
// checkpoints and copies as streams in sequence order, so its memory does
// not grow with the log, and reports every problem it finds, merged into
// ranges. An error means a source could not be read.
func Verify(ctx context.Context, src Source, keys []ed25519.PublicKey, opts VerifyOptions) (Report, error) {
	v := &verifier{ctx: ctx, keys: keys, opts: opts, expect: map[int64][]Hash{}}
	if v.opts.MaxProblems <= 0 {
		v.opts.MaxProblems = 100
	}
	for _, a := range opts.Expect {
		v.expect[a.Seq] = append(v.expect[a.Seq], a.Hash)
	}
	cps, closeCps, err := checkpointStream(ctx, src)
	if err != nil {
		return Report{}, err
	}
	defer closeCps()
	v.cps = cps
	if len(opts.Witnesses) > 0 {
		v.rep.Anchors = &AnchorStatus{}
	}
	for _, w := range opts.Witnesses {
		s := newStream(func(fn func(Witnessed) error) error {
			return w.Witnessed(ctx, func(x *Witnessed) error { return fn(*x) })
		})
		defer s.close()
		v.wits = append(v.wits, s)
		v.rep.Anchors.Witnesses = append(v.rep.Anchors.Witnesses, w.Name())
	}
	err = src.AuditRecords(ctx, Query{}, func(r *Record) error {
		if err := v.record(r); err != nil {
			return err
		}
		if opts.Progress != nil && v.rep.Records%100_000 == 0 {
			opts.Progress(v.rep.Records, opts.ProgressTotal)
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	// Records written while the first pass ran (a gateway at work): read
	// them too, so checkpoints and copies made meanwhile, which the other
	// streams may have reached, are not taken for a deleted tail.
	for range 5 {
		n := v.rep.Records
		if err := src.AuditRecords(ctx, Query{AfterSeq: v.prevSeq}, v.record); err != nil {
			return Report{}, err
		}
		if v.rep.Records == n {
			break
		}
	}
	if err := v.finish(); err != nil {
		return Report{}, err
	}
	for _, w := range opts.Witnesses {
		if ww, ok := w.(interface{ Warnings() []string }); ok {
			v.rep.Warnings = append(v.rep.Warnings, ww.Warnings()...)
		}
	}
	if opts.Progress != nil {
		opts.Progress(v.rep.Records, opts.ProgressTotal)
	}
	return v.rep, nil
}

// verifier is one run of Verify.
type verifier struct {
	ctx  context.Context
	keys []ed25519.PublicKey
	opts VerifyOptions
	rep  Report

	// The chain: the last record read and its hash.
	prevSeq int64
	prev    Hash
	// Times for the checkpoint-existence rules.
	first, newest, uncovered time.Time

	// The database's checkpoints, in Seq order.
	cps *stream[Checkpoint]
	// lastValid is the last checkpoint whose signature verified (the next
	// one must name it), lastCp the last one read.
	lastValid, lastCp *Checkpoint
	cpRecordSeen      bool // lastCp's record was read

	// The copies outside, in Seq order per witness.
	wits []*stream[Witnessed]
	// lastMatched is the highest anchored record that agreed with the
	// database; beyond collects (a few of) the copies past the last record.
	lastMatched, matchedBefore int64
	// rwOpen: a copy disagreed with the database (at rwSeq); every later
	// disagreeing copy joins that one finding.
	rwOpen      bool
	rwSeq       int64
	witPrevFail map[string]bool // the previous copy of this kind failed (merge)
	beyond      []Witnessed
	beyondCount int64

	expect map[int64][]Hash
	// recent are the stored hashes of the last records read (rejoins).
	recent [16]Hash

	expectFound map[Anchor]bool

	problems []Problem
	reasons  []func(from, to int64, n int) string // of problems, from their first finding
	last     map[string]int                       // index in problems of the last problem of a kind

	// uncoveredNext: the next record is the first after the newest
	// checkpoint that matched its record (its time starts the uncovered
	// span).
	uncoveredNext bool
}

// problem records a finding. A finding that continues the last one of its
// kind (merge) extends that one's range instead.
func (v *verifier) problem(kind string, seq, to int64, merge bool, reason func(from, to int64, n int) string) {
	if to < seq {
		to = seq
	}
	if v.last == nil {
		v.last = map[string]int{}
	}
	if i, ok := v.last[kind]; ok && merge && i >= 0 {
		p := &v.problems[i]
		p.Seq, p.To = min(p.Seq, seq), max(p.To, to)
		p.Count++
		p.Reason = v.reasons[i](p.Seq, p.To, p.Count)
		return
	}
	if len(v.problems) >= v.opts.MaxProblems {
		v.rep.MoreProblems++
		v.last[kind] = -1
		return
	}
	v.problems = append(v.problems, Problem{Seq: seq, To: to, Kind: kind, Count: 1, Reason: reason(seq, to, 1)})
	v.reasons = append(v.reasons, reason)
	v.last[kind] = len(v.problems) - 1
}

// simple is a reason that does not change with merging.
func simple(format string, args ...any) func(int64, int64, int) string {
	s := fmt.Sprintf(format, args...)
	return func(int64, int64, int) string { return s }
}

// span names a range of records.
func span(from, to int64) string {
	if from == to {
		return fmt.Sprintf("record %d", from)
	}
	return fmt.Sprintf("records %d to %d", from, to)
}

func (v *verifier) record(r *Record) error {
	// Checkpoints and copies of records before this one (their records are
	// missing: the gap is reported below).
	if err := v.advance(r.Seq - 1); err != nil {
		return err
	}
	switch {
	case r.Seq <= v.prevSeq:
		v.problem(ProblemUnlinked, r.Seq, r.Seq, false, simple("record %d appears again after record %d (the records are out of order)", r.Seq, v.prevSeq))
	case r.Seq != v.prevSeq+1:
		from, to := v.prevSeq+1, r.Seq-1
		v.problem(ProblemMissing, from, to, false, simple("%s %s missing (the next record is %d)", span(from, to), isAre(from, to), r.Seq))
	case r.PrevHash != v.prev && !v.rejoins(r):
		v.problem(ProblemUnlinked, r.Seq, r.Seq, v.prevFailed(ProblemUnlinked, r.Seq), func(from, to int64, _ int) string {
			return fmt.Sprintf("%s %s not link to the record before (inserted, reordered, or the previous record was replaced)", span(from, to), doesDo(from, to))
		})
	case r.Sum() != r.Hash:
		v.problem(ProblemModified, r.Seq, r.Seq, v.prevFailed(ProblemModified, r.Seq), func(from, to int64, n int) string {
			return fmt.Sprintf("%s %s modified (the hash does not match the content)", span(from, to), wasWere(from, to))
		})
	}
	for _, h := range v.expect[r.Seq] {
		if h != r.Hash {
			v.problem(ProblemExpected, r.Seq, r.Seq, false, simple("record %d differs from the expected checkpoint %s (chain rewritten up to here)", r.Seq, Anchor{r.Seq, h}))
		}
	}
	if r.Seq == 1 {
		v.first = r.Time
	}
	if v.uncoveredNext {
		v.uncovered, v.uncoveredNext = r.Time, false
	}
	v.newest = r.Time
	v.prevSeq, v.prev = r.Seq, r.Hash
	v.recent[v.rep.Records%int64(len(v.recent))] = r.Hash
	v.rep.Records++
	return v.advance(r.Seq)
}

// rejoins reports whether r, following a record that had a problem, links
// to one of the last records read: the chain continues after a damaged
// stretch (e.g. two records swapped), which is reported on its own.
func (v *verifier) rejoins(r *Record) bool {
	if !v.prevFailed(ProblemUnlinked, r.Seq) && !v.prevFailed(ProblemModified, r.Seq) {
		return false
	}
	return slices.Contains(v.recent[:], r.PrevHash)
}

// prevFailed reports whether the record before seq had a problem of kind
// (so the two merge into one range).
func (v *verifier) prevFailed(kind string, seq int64) bool {
	i, ok := v.last[kind]
	return ok && i >= 0 && v.problems[i].To == seq-1
}

func isAre(from, to int64) string   { return map[bool]string{true: "is", false: "are"}[from == to] }
func wasWere(from, to int64) string { return map[bool]string{true: "was", false: "were"}[from == to] }
func doesDo(from, to int64) string  { return map[bool]string{true: "does", false: "do"}[from == to] }

// advance handles the checkpoints and copies up to record upTo, in Seq
// order, the database's first at equal Seq. The record upTo, if it exists,
// is the last one read (v.prevSeq, v.prev).
func (v *verifier) advance(upTo int64) error {
	for {
		c, cok := v.cps.peek()
		wi := v.nextWitness()
		switch {
		case cok && c.Seq <= upTo && (wi < 0 || c.Seq <= v.wits[wi].head.Seq):
			v.cps.advance()
			v.checkpoint(c)
		case wi >= 0 && v.wits[wi].head.Seq <= upTo:
			w := v.wits[wi].head
			v.wits[wi].advance()
			if err := v.witnessed(w); err != nil {
				return err
			}
		default:
			if err := v.cps.err; err != nil {
				return err
			}
			for _, s := range v.wits {
				if s.err != nil {
					return s.err
				}
			}
			return nil
		}
	}
}

// nextWitness is the index of the witness whose next copy has the lowest
// Seq, or -1.
func (v *verifier) nextWitness() int {
	best := -1
	for i, s := range v.wits {
		if s.ok && (best < 0 || s.head.Seq < v.wits[best].head.Seq) {
			best = i
		}
	}
	return best
}

// checkpoint checks a database checkpoint: its signature, its record (the
// last one read, if it is c's), and that it names the checkpoint before.
func (v *verifier) checkpoint(c Checkpoint) {
	v.rep.Checkpoints++
	v.lastCp, v.cpRecordSeen = &c, c.Seq == v.prevSeq && v.rep.Records > 0
	if err := c.VerifySignature(v.keys); err != nil {
		v.problem(ProblemCheckpoint, c.Seq, c.Seq, false, simple("checkpoint at record %d: %v", c.Seq, err))
		return
	}
	if c.Chained() {
		switch {
		case c.PrevSeq == 0 && v.lastValid != nil:
			v.problem(ProblemCheckpointMissing, c.Seq, c.Seq, false, simple("the checkpoint at record %d starts a new checkpoint chain although older checkpoints exist (checkpoints were deleted when it was signed)", c.Seq))
		case c.PrevSeq != 0 && (v.lastValid == nil || v.lastValid.Seq != c.PrevSeq || v.lastValid.Digest() != c.Prev):
			after := "the first checkpoint"
			if v.lastValid != nil {
				after = fmt.Sprintf("the checkpoint at record %d", v.lastValid.Seq)
			}
			if v.lastValid != nil && v.lastValid.Seq == c.PrevSeq {
				v.problem(ProblemCheckpointMissing, c.PrevSeq, c.PrevSeq, false, simple("the checkpoint at record %d was altered (the checkpoint at record %d follows another)", c.PrevSeq, c.Seq))
			} else {
				v.problem(ProblemCheckpointMissing, c.PrevSeq, c.PrevSeq, false, simple("the checkpoint at record %d is missing from the database, with any others after %s (the checkpoint at record %d follows it): checkpoints were deleted", c.PrevSeq, after, c.Seq))
			}
		}
	}
	if v.cpRecordSeen {
		if c.Hash != v.prev {
			v.problem(ProblemCheckpoint, c.Seq, c.Seq, false, simple("record %d differs from the signed checkpoint (chain rewritten up to here)", c.Seq))
		} else if c.Seq >= v.rep.LastCheckpoint {
			v.rep.LastCheckpoint, v.rep.LastCheckpointTime = c.Seq, c.Time
			v.uncoveredNext = true
		}
	}
	for _, h := range v.expect[c.Seq] {
		if h == c.Hash {
			if v.expectFound == nil {
				v.expectFound = map[Anchor]bool{}
			}
			v.expectFound[Anchor{c.Seq, h}] = true
		}
	}
	v.lastValid = &c
}

// witnessed compares a copy held outside with the database: its record
// (the last one read, if it is the copy's) and its checkpoint.
func (v *verifier) witnessed(w Witnessed) error {
	st := v.rep.Anchors
	st.Checked++
	if w.Seq > v.prevSeq || v.rep.Records == 0 {
		// Past the last record read: handled at the end (a copy of a
		// record that is missing from the middle is in that gap's
		// report).
		return nil
	}
	if w.Seq != v.prevSeq {
		return nil // its record is missing: the gap is reported
	}
	inDB := v.lastCp != nil && v.lastCp.Seq == w.Seq && v.lastCp.Hash == w.Hash
	if w.Hash == v.prev {
		st.Matched++
		if !v.rwOpen {
			// The fork point is the last agreement before the first
			// disagreement: copies of a branch written after a restore
			// agree with the database again, and do not move it.
			if w.Seq != v.lastMatched {
				v.matchedBefore = v.lastMatched
			}
			v.lastMatched = w.Seq
		}
		v.noteNewest(w)
		if !inDB {
			v.problem(ProblemCheckpointMissing, w.Seq, w.Seq, v.witPrev("cpmissing", true), func(from, to int64, n int) string {
				return fmt.Sprintf("%d anchored checkpoint%s of records %d to %d %s missing from the database (first anchored at %s): checkpoints were deleted", n, plural(n), from, to, isAre(int64(n), 1), w.Where)
			})
		} else {
			v.witPrev("cpmissing", false)
		}
		return nil
	}
	// A copy that disagrees with the database: is it genuine?
	c, err := w.open(v.ctx)
	if err == nil {
		err = c.VerifySignature(v.keys)
		if err == nil && (c.Seq != w.Seq || c.Hash != w.Hash) {
			err = errors.New("its name does not match its content")
		}
	}
	if err != nil {
		v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("the copy at %s (record %d) is not a checkpoint signed by a trusted key (%v): planted in the anchor store, not evidence about the log", w.Where, w.Seq, err))
		return nil
	}
	v.noteNewest(w)
	if v.lastMatched == w.Seq {
		// Another copy of this record agreed (a restored database's
		// gateway anchors its new branch too): the fork is before it.
		v.lastMatched = v.matchedBefore
	}
	if v.lastCp == nil || v.lastCp.Seq != w.Seq {
		v.problem(ProblemCheckpointMissing, w.Seq, w.Seq, v.witPrev("cpmissing", true), func(from, to int64, n int) string {
			return fmt.Sprintf("%d anchored checkpoint%s of records %d to %d %s missing from the database (first anchored at %s): checkpoints were deleted", n, plural(n), from, to, isAre(int64(n), 1), w.Where)
		})
	}
	matched, merge := v.lastMatched, v.rwOpen
	v.rwOpen, v.rwSeq = true, w.Seq
	v.problem(ProblemRewritten, w.Seq, w.Seq, merge, func(from, to int64, n int) string {
		s := fmt.Sprintf("%d checkpoint%s signed by a trusted key and anchored outside the database (records %d to %d, first at %s) disagree%s with the database's records: ", n, plural(n), from, to, w.Where, map[bool]string{true: "s", false: ""}[n == 1])
		if matched > 0 {
			s += fmt.Sprintf("the log was rewritten, or an older copy of the database restored and written to, after record %d (the last anchored checkpoint that agrees)", matched)
		} else {
			s += "the log was rewritten from its start"
		}
		return s
	})
	return nil
}

// witPrev reports whether the previous copy failed the check named kind,
// and records whether this one did.
func (v *verifier) witPrev(kind string, failed bool) bool {
	if v.witPrevFail == nil {
		v.witPrevFail = map[string]bool{}
	}
	was := v.witPrevFail[kind]
	v.witPrevFail[kind] = failed
	return was
}

func (v *verifier) noteNewest(w Witnessed) {
	if st := v.rep.Anchors; w.Seq >= st.Newest {
		st.Newest, st.NewestWhere = w.Seq, w.Where
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// finish handles what lies past the last record: checkpoints and copies of
// records the database no longer has, then the rules about checkpoints
// that must exist.
func (v *verifier) finish() error {
	head := v.prevSeq
	// Checkpoints past the head, and copies past it (kept, a few).
	var truncTo int64
	for {
		c, cok := v.cps.peek()
		wi := v.nextWitness()
		if cok && (wi < 0 || c.Seq <= v.wits[wi].head.Seq) {
			v.cps.advance()
			if c.Seq > head {
				v.checkpoint(c)
				if c.VerifySignature(v.keys) == nil {
					truncTo = max(truncTo, c.Seq)
				}
			} else {
				v.checkpoint(c)
			}
			continue
		}
		if wi >= 0 {
			w := v.wits[wi].head
			v.wits[wi].advance()
			if w.Seq > head {
				v.rep.Anchors.Checked++
				v.beyondCount++
				v.beyond = append(v.beyond, w)
				if len(v.beyond) > 8 {
					v.beyond = v.beyond[1:]
				}
			} else if err := v.witnessed(w); err != nil {
				return err
			}
			continue
		}
		break
	}
	if err := v.cps.err; err != nil {
		return err
	}
	for _, s := range v.wits {
		if s.err != nil {
			return s.err
		}
	}
	if truncTo > 0 {
		v.problem(ProblemTruncated, head+1, truncTo, false, simple("records %d to %d are missing: the database ends at record %d, but a checkpoint in it signed by a trusted key covers record %d (the newest records were deleted)", head+1, truncTo, head, truncTo))
	}
	// The newest genuine copy past the head says how far the log went.
	for i := len(v.beyond) - 1; i >= 0; i-- {
		w := v.beyond[i]
		c, err := w.open(v.ctx)
		if err == nil {
			err = c.VerifySignature(v.keys)
			if err == nil && (c.Seq != w.Seq || c.Hash != w.Hash) {
				err = errors.New("its name does not match its content")
			}
		}
		if err != nil {
			v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("the copy at %s (record %d) is not a checkpoint signed by a trusted key (%v): planted in the anchor store, not evidence about the log", w.Where, w.Seq, err))
			continue
		}
		v.noteNewest(w)
		when := ""
		if !c.Time.IsZero() {
			when = " signed " + c.Time.UTC().Format(time.RFC3339)
		}
		v.problem(ProblemTruncated, head+1, w.Seq, false, simple("records %d to %d are missing: the database ends at record %d, but the checkpoint of record %d%s is anchored outside it at %s (%d cop%s of checkpoints outside it lie past the database's end): the newest records were deleted, or an older copy of the database was restored",
			head+1, w.Seq, head, w.Seq, when, w.Where, v.beyondCount, map[bool]string{true: "y", false: "ies"}[v.beyondCount == 1]))
		break
	}
	for _, a := range v.opts.Expect {
		if a.Seq > head {
			v.problem(ProblemExpected, head+1, a.Seq, true, simple("records %d to %d are missing (the expected checkpoint %s covers them)", head+1, a.Seq, a))
		}
	}
	for _, a := range v.opts.Expect {
		if !v.expectFound[a] {
			v.problem(ProblemExpected, a.Seq, a.Seq, false, simple("the expected checkpoint %s is not in the log (deleted, or the chain was rewritten)", a))
		}
	}
	// Checkpoints that should exist: a gateway signs one every interval
	// while records are written.
	if iv := v.opts.CheckpointInterval; iv > 0 && v.rep.Records > 0 && len(v.problems) == 0 && v.rep.MoreProblems == 0 {
		maxAge := v.opts.MaxCheckpointAge
		if maxAge <= 0 {
			maxAge = DefaultMaxAge(iv)
		}
		switch last := v.rep.LastCheckpoint; {
		case last == 0 && v.newest.Sub(v.first) > 2*iv:
			v.problem(ProblemUncovered, 1, head, false, simple("no signed checkpoint covers records 1 to %d, which span %s (more than 2 checkpoint intervals of %s): checkpoints were deleted, or no gateway signs them",
				head, v.newest.Sub(v.first).Round(time.Second), iv))
		case last > 0 && last < head && v.newest.Sub(v.uncovered) > maxAge:
			v.problem(ProblemUncovered, last+1, head, false, simple("records %d to %d are not covered by a signed checkpoint and span %s (more than the maximum checkpoint age %s): checkpoints were deleted, or no gateway signs them",
				last+1, head, v.newest.Sub(v.uncovered).Round(time.Second), maxAge))
		}
	}
	v.rep.Head = v.prev
	v.rep.Problems = v.problems
	for i := range v.problems {
		if v.rep.Problem == nil || v.problems[i].Seq < v.rep.Problem.Seq {
			v.rep.Problem = &v.problems[i]
		}
	}
	v.rep.OK = len(v.problems) == 0 && v.rep.MoreProblems == 0
	return nil
}

// checkpointStream streams src's checkpoints in Seq order: from the store
// when it can (constant memory), else from Checkpoints.
func checkpointStream(ctx context.Context, src Source) (*stream[Checkpoint], func(), error) {
	if cs, ok := src.(CheckpointStreamer); ok {
		s := newStream(func(fn func(Checkpoint) error) error {
			return cs.EachCheckpoint(ctx, func(c *Checkpoint) error { return fn(*c) })
		})
		return s, s.close, nil
	}
	cps, err := src.Checkpoints(ctx)
	if err != nil {
		return nil, nil, err
	}
	sortCheckpoints(cps)
	s := newStream(func(fn func(Checkpoint) error) error {
		for _, c := range cps {
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	})
	return s, s.close, nil
}

func sortCheckpoints(cps []Checkpoint) {
	for i := 1; i < len(cps); i++ {
		for j := i; j > 0 && cps[j].Seq < cps[j-1].Seq; j-- {
			cps[j], cps[j-1] = cps[j-1], cps[j]
		}
	}
}

// stream turns a callback producer into a pull iterator with one value of
// lookahead, so several sorted sources can be merged.
type stream[T any] struct {
	next func() (T, error, bool)
	stop func()
	head T
	ok   bool
	err  error
}

func newStream[T any](each func(fn func(T) error) error) *stream[T] {
	seq := func(yield func(T, error) bool) {
		err := each(func(x T) error {
			if !yield(x, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			var zero T
			yield(zero, err)
		}
	}
	next, stop := iter.Pull2(iter.Seq2[T, error](seq))
	s := &stream[T]{next: next, stop: stop}
	s.advance()
	return s
}

func (s *stream[T]) advance() {
	x, err, ok := s.next()
	switch {
	case !ok:
		s.ok = false
	case err != nil:
		s.ok, s.err = false, err
	default:
		s.head, s.ok = x, true
	}
}

func (s *stream[T]) peek() (T, bool) { return s.head, s.ok }

func (s *stream[T]) close() { s.stop() }

// BrokenError is a chain that does not continue from a known point.
type BrokenError struct {
	Seq    int64
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit chain broken at record %d: %s", e.Seq, e.Reason)
}

// CheckSpan checks that the chain runs unbroken from the known point from
// (Seq 0: the start of the chain) to the head to, and passes through every
// point in also that lies in between. It returns a *BrokenError if not;
// other errors mean src could not be read.
func CheckSpan(ctx context.Context, src RecordSource, from, to Anchor, also ...Anchor) error {
	if to.Seq < from.Seq {
		return &BrokenError{to.Seq + 1, fmt.Sprintf("the chain ends at record %d, but record %d (hash %s) was seen before: records were deleted", to.Seq, from.Seq, from.Hash)}
	}
	if from.Seq == to.Seq && from.Seq > 0 && from.Hash != to.Hash {
		return &BrokenError{to.Seq, fmt.Sprintf("record %d has hash %s, but %s when it was last seen: the chain was rewritten", to.Seq, to.Hash, from.Hash)}
	}
	want := map[int64]Hash{from.Seq: from.Hash, to.Seq: to.Hash}
	for _, a := range also {
		if a.Seq < from.Seq || a.Seq > to.Seq {
			continue
		}
		if h, ok := want[a.Seq]; ok && h != a.Hash {
			return &BrokenError{a.Seq, fmt.Sprintf("record %d has two known hashes, %s and %s", a.Seq, h, a.Hash)}
		}
		want[a.Seq] = a.Hash
	}
	if to.Seq == 0 {
		return nil
	}
	var broken *BrokenError
	prevSeq, prev := from.Seq, from.Hash
	q := Query{Limit: int(to.Seq)}
	seen := from.Seq == 0 // the known point was found (nothing to find at the start)
	if from.Seq > 0 {
		q = Query{AfterSeq: from.Seq - 1, Limit: int(to.Seq - from.Seq + 1)}
	}
	err := src.AuditRecords(ctx, q, func(r *Record) error {
		switch {
		case !seen:
			seen = true
			if r.Seq != from.Seq {
				broken = &BrokenError{from.Seq, fmt.Sprintf("record %d (hash %s when it was last seen) is missing: records were deleted", from.Seq, from.Hash)}
			} else if r.Hash != from.Hash {
				broken = &BrokenError{r.Seq, fmt.Sprintf("record %d has hash %s, but %s when it was last seen: the chain was rewritten", r.Seq, r.Hash, from.Hash)}
			} else if r.Sum() != r.Hash {
				broken = &BrokenError{r.Seq, fmt.Sprintf("record %d was modified", r.Seq)}
			}
			if broken != nil {
				return errStop
			}
			return nil
		case r.Seq != prevSeq+1:
			broken = &BrokenError{prevSeq + 1, fmt.Sprintf("record %d is missing", prevSeq+1)}
		case r.PrevHash != prev:
			broken = &BrokenError{r.Seq, fmt.Sprintf("record %d does not link to record %d", r.Seq, prevSeq)}
		case r.Sum() != r.Hash:
			broken = &BrokenError{r.Seq, fmt.Sprintf("record %d was modified", r.Seq)}
		}
		if h, ok := want[r.Seq]; broken == nil && ok && h != r.Hash {
			broken = &BrokenError{r.Seq, fmt.Sprintf("record %d has hash %s, but a checkpoint says %s", r.Seq, r.Hash, h)}
		}
		if broken != nil {
			return errStop
		}
		prevSeq, prev = r.Seq, r.Hash
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if broken != nil {
		return broken
	}
	if !seen {
		return &BrokenError{from.Seq, fmt.Sprintf("record %d (hash %s when it was last seen) is missing: records were deleted", from.Seq, from.Hash)}
	}
	if prevSeq != to.Seq {
		return &BrokenError{prevSeq + 1, fmt.Sprintf("record %d is missing (the head is %d)", prevSeq+1, to.Seq)}
	}
	return nil
}

type stopError struct{}

func (stopError) Error() string { return "stop" }

var errStop error = stopError{}
