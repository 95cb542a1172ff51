// Package audit defines the gateway's audit record, the hash chain that links
// the records, the signed checkpoints of the chain head, and the verifier
// that finds the first edited, inserted or deleted record.
//
// Record n holds the hash of record n-1 (record 1 holds 32 zero bytes), and
// its own hash covers every field plus that link, so editing a record breaks
// its hash, deleting one leaves a gap in the sequence numbers, and inserting
// one breaks the next record's link. A chain rewritten from some point on is
// caught by the first signed checkpoint after that point; records removed
// from the tail by the first checkpoint beyond the new head.
package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Hash is a SHA-256 chain hash.
type Hash [sha256.Size]byte

// String returns the lowercase hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText writes the hex form, so JSON exports are readable.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses the hex form.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("audit: hash must be %d hex characters", 2*len(h))
	}
	_, err := hex.Decode(h[:], b)
	if err != nil {
		return fmt.Errorf("audit: hash: %w", err)
	}
	return nil
}

// Results of a request, derived from the gateway's error kind.
const (
	ResultOK       = "ok"
	ResultDenied   = "denied"   // 401, 403, 429
	ResultInvalid  = "invalid"  // 400, 404, 405, 411, 413, 428
	ResultConflict = "conflict" // 409, 412
	// ResultLegalHold is a delete refused by a legal hold (409
	// legal_hold): its own result, so the log shows what a hold stopped.
	ResultLegalHold = "legal_hold"
	ResultError     = "error" // 5xx
)

// Record is one audited request.
type Record struct {
	Seq int64 `json:"seq"`
	// Time is when the request arrived (UTC, microsecond precision).
	Time time.Time `json:"time"`
	// Decided is when the gateway wrote the record: at its decision, in
	// the transaction of the change it allowed, or as it refused. Records
	// are decided in Seq order, so a request refused by a revocation is
	// decided after it even if it arrived before. Zero in records written
	// before the gateway kept it.
	Decided   time.Time `json:"decided,omitzero"`
	Entity    string    `json:"entity"`
	User      string    `json:"user"`
	Device    string    `json:"device"`
	Source    string    `json:"source"`
	Matter    string    `json:"matter"`
	Action    string    `json:"action"`
	Object    string    `json:"object"`
	Result    string    `json:"result"`
	Status    int       `json:"status"`
	Bytes     int64     `json:"bytes"`
	RequestID string    `json:"request_id"`
	PrevHash  Hash      `json:"prev_hash"`
	Hash      Hash      `json:"hash"`
}

// Normalize truncates the time to what both stores keep (UTC
// microseconds), so the hash computed before storing equals the hash
// computed from what was stored.
func (r *Record) Normalize() {
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	if !r.Decided.IsZero() {
		r.Decided = r.Decided.UTC().Truncate(time.Microsecond)
	}
}

// Link makes r the record after one whose sequence number and hash are
// prevSeq and prev: it sets Seq, PrevHash and Hash.
func (r *Record) Link(prevSeq int64, prev Hash) {
	r.Normalize()
	r.Seq = prevSeq + 1
	r.PrevHash = prev
	r.Hash = r.Sum()
}

// Sum computes the record's hash: SHA-256 over a domain string and every
// field, strings length-prefixed, integers as 8 big-endian bytes, times as
// Unix microseconds. Any verifier can recompute it from an export. A
// record with a decision time hashes it too, after the time, under the
// domain string v2; one without (written before the gateway kept it)
// hashes as it always did, under v1, so old records still verify and
// removing a decision time breaks the hash.
func (r *Record) Sum() Hash {
	h := sha256.New()
	b := make([]byte, 0, 512)
	if r.Decided.IsZero() {
		b = append(b, "mattersync-audit-v1\x00"...)
		b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
		b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixMicro()))
	} else {
		b = append(b, "mattersync-audit-v2\x00"...)
		b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
		b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixMicro()))
		b = binary.BigEndian.AppendUint64(b, uint64(r.Decided.UnixMicro()))
	}
	for _, s := range []string{r.Entity, r.User, r.Device, r.Source, r.Matter, r.Action, r.Object, r.Result} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(int64(r.Status)))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Bytes))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.RequestID)))
	b = append(b, r.RequestID...)
	b = append(b, r.PrevHash[:]...)
	h.Write(b)
	var out Hash
	h.Sum(out[:0])
	return out
}

// Checkpoint is a signed statement that the chain had hash Hash at record
// Seq.
//
// Version 2 checkpoints are chained: each also signs the digest of the
// checkpoint signed before it (PrevSeq, Prev; 0 and zero for the first), so
// deleting a checkpoint from the middle leaves the next one pointing at
// nothing. Version 1 (or 0: stored before chaining) checkpoints sign only
// seq, hash and time; they still verify.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      Hash      `json:"hash"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"`
	Version   int       `json:"version"`
	PrevSeq   int64     `json:"prev_seq"`
	Prev      Hash      `json:"prev"`
}

// Chained reports whether c signs its predecessor (version 2).
func (c *Checkpoint) Chained() bool { return c.Version >= 2 }

func (c *Checkpoint) message() []byte {
	b := make([]byte, 0, 160)
	if !c.Chained() {
		b = append(b, "mattersync-audit-checkpoint-v1\x00"...)
	} else {
		b = append(b, "mattersync-audit-checkpoint-v2\x00"...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(c.Seq))
	b = append(b, c.Hash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixMicro()))
	if c.Chained() {
		b = binary.BigEndian.AppendUint64(b, uint64(c.PrevSeq))
		b = append(b, c.Prev[:]...)
	}
	return b
}

// Digest identifies a checkpoint (what the next one signs as Prev): SHA-256
// over its signed message, key ID and signature.
func (c *Checkpoint) Digest() Hash {
	h := sha256.New()
	h.Write([]byte("mattersync-audit-checkpoint-id\x00"))
	m := c.message()
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(m))))
	h.Write(m)
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(c.KeyID))))
	h.Write([]byte(c.KeyID))
	h.Write(c.Signature)
	var out Hash
	h.Sum(out[:0])
	return out
}

// KeyID names a public key in checkpoints: the first 8 bytes of its SHA-256,
// in hex.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// Sign returns a chained (version 2) checkpoint of (seq, hash) at time t
// signed with key, following prev (nil: the first checkpoint).
func Sign(key ed25519.PrivateKey, seq int64, hash Hash, t time.Time, prev *Checkpoint) Checkpoint {
	c := Checkpoint{Seq: seq, Hash: hash, Time: t.UTC().Truncate(time.Microsecond), Version: 2}
	if prev != nil {
		c.PrevSeq, c.Prev = prev.Seq, prev.Digest()
	}
	pub := key.Public().(ed25519.PublicKey)
	c.KeyID = KeyID(pub)
	c.Signature = ed25519.Sign(key, c.message())
	return c
}

// SignV1 returns an unchained (version 1) checkpoint, as gateways signed
// before checkpoints were chained: for tests of logs written then.
func SignV1(key ed25519.PrivateKey, seq int64, hash Hash, t time.Time) Checkpoint {
	c := Checkpoint{Seq: seq, Hash: hash, Time: t.UTC().Truncate(time.Microsecond), Version: 1}
	c.KeyID = KeyID(key.Public().(ed25519.PublicKey))
	c.Signature = ed25519.Sign(key, c.message())
	return c
}

// VerifySignature checks c's signature against the trusted keys.
func (c *Checkpoint) VerifySignature(keys []ed25519.PublicKey) error {
	for _, k := range keys {
		if KeyID(k) == c.KeyID {
			if ed25519.Verify(k, c.message(), c.Signature) {
				return nil
			}
			return errors.New("bad signature")
		}
	}
	return fmt.Errorf("signed by unknown key %s", c.KeyID)
}

// Anchor is a point of the chain known from outside the database: record
// Seq had hash Hash (e.g. a checkpoint copied to the SIEM, given to verify
// as --expect-checkpoint seq:hash).
type Anchor struct {
	Seq  int64
	Hash Hash
}

// String returns "seq:hash", the form ParseAnchor reads.
func (a Anchor) String() string { return strconv.FormatInt(a.Seq, 10) + ":" + a.Hash.String() }

// ParseAnchor reads "seq:hash" (hash in hex).
func ParseAnchor(s string) (Anchor, error) {
	seq, h, ok := strings.Cut(strings.TrimSpace(s), ":")
	var a Anchor
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 1 {
		return a, fmt.Errorf("audit: %q is not <seq>:<hash>", s)
	}
	if err := a.Hash.UnmarshalText([]byte(strings.ToLower(h))); err != nil {
		return a, fmt.Errorf("audit: %q is not <seq>:<hash>: %w", s, err)
	}
	a.Seq = n
	return a, nil
}
