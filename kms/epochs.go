package kms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
)

// epochSet is the KV v2 secret matters/<id>/epochs: every wrapped epoch key
// of a matter in one secret, so a member fetches all of them with one read
// and unwraps them with one batch decrypt (two Vault calls per matter per
// key TTL), and rotation adds an epoch and rewraps the older ones in one
// atomic check-and-set write.
type epochSet struct {
	Current uint32                `json:"current"`
	Epochs  map[string]epochEntry `json:"epochs"` // key: decimal epoch number
}

type epochEntry struct {
	Wrapped string `json:"wrapped"` // transit ciphertext, vault:vN:...
	Created string `json:"created"` // RFC 3339, when the epoch was created
}

// numbers returns the epoch numbers in ascending order.
func (s epochSet) numbers() ([]uint32, error) {
	ns := make([]uint32, 0, len(s.Epochs))
	for k := range s.Epochs {
		n, err := strconv.ParseUint(k, 10, 32)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("epoch %q is not a number from 1 to %d", k, uint32(math.MaxUint32))
		}
		ns = append(ns, uint32(n))
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i] < ns[j] })
	return ns, nil
}

func (s epochSet) validate() error {
	ns, err := s.numbers()
	if err != nil {
		return err
	}
	if len(ns) == 0 || s.Current != ns[len(ns)-1] {
		return fmt.Errorf("current epoch %d is not the newest of %v", s.Current, ns)
	}
	return nil
}

// kvRead reads a KV v2 secret's data and version; absent is NotFound.
func (s *session) kvRead(ctx context.Context, op, key string, into any) (version int, err error) {
	sec, err := s.read(ctx, op, s.layout.kvData(key))
	if err != nil {
		return 0, err
	}
	data, _ := sec.Data["data"].(map[string]any)
	if data == nil {
		// A deleted (not destroyed) version reads as metadata only.
		return 0, errorf(op, NotFound, "%s is deleted", key)
	}
	if md, ok := sec.Data["metadata"].(map[string]any); ok {
		v, _ := number(md["version"])
		version = int(v)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return 0, errorf(op, Other, "%s: %w", key, err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		return 0, errorf(op, Other, "%s is malformed: %w", key, err)
	}
	return version, nil
}

// kvWrite writes a KV v2 secret with check-and-set: cas 0 creates, cas n
// replaces version n. A mismatch is a Conflict error, so nothing written by
// someone else is ever overwritten.
func (s *session) kvWrite(ctx context.Context, op, key string, cas int, value any) (version int, err error) {
	b, err := json.Marshal(value)
	if err != nil {
		return 0, errorf(op, Other, "%s: %w", key, err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		return 0, errorf(op, Other, "%s: %w", key, err)
	}
	sec, err := s.write(ctx, op, s.layout.kvData(key), map[string]any{"options": map[string]any{"cas": cas}, "data": data})
	if err != nil {
		if KindOf(err) == Conflict {
			return 0, errorf(op, Conflict, "%s changed concurrently or already exists (check-and-set %d failed)", key, cas)
		}
		return 0, err
	}
	if sec != nil {
		v, _ := number(sec.Data["version"])
		version = int(v)
	}
	return version, nil
}

// readEpochs reads a matter's epoch set.
func (s *session) readEpochs(ctx context.Context, op, matter string) (epochSet, int, error) {
	var set epochSet
	v, err := s.kvRead(ctx, op, epochsKey(matter), &set)
	if err != nil {
		if KindOf(err) == NotFound {
			return set, 0, errorf(op, NotFound, "matter %s has no epoch keys (unknown, incomplete or shredded)", matter)
		}
		return set, 0, err
	}
	if err := set.validate(); err != nil {
		return set, 0, errorf(op, Other, "matter %s epochs: %w", matter, err)
	}
	return set, v, nil
}

// decryptEpochs unwraps every epoch key of set with one batch decrypt.
func (s *session) decryptEpochs(ctx context.Context, op, matter string, set epochSet) (map[uint32][]byte, error) {
	ns, err := set.numbers()
	if err != nil {
		return nil, errorf(op, Other, "%w", err)
	}
	batch := make([]map[string]any, len(ns))
	for i, n := range ns {
		batch[i] = map[string]any{"ciphertext": set.Epochs[strconv.FormatUint(uint64(n), 10)].Wrapped}
	}
	sec, err := s.write(ctx, op, s.layout.transitPath("decrypt", matter), map[string]any{"batch_input": batch})
	if err != nil {
		return nil, err
	}
	if sec == nil {
		return nil, errorf(op, Other, "empty decrypt response")
	}
	results, _ := sec.Data["batch_results"].([]any)
	if len(results) != len(ns) {
		return nil, errorf(op, Other, "decrypt returned %d results for %d epochs", len(results), len(ns))
	}
	keys := make(map[uint32][]byte, len(ns))
	fail := func(err error) (map[uint32][]byte, error) {
		for _, k := range keys {
			clear(k)
		}
		return nil, err
	}
	for i, r := range results {
		m, _ := r.(map[string]any)
		if e, _ := m["error"].(string); e != "" {
			return fail(errorf(op, Denied, "epoch %d: %s", ns[i], e))
		}
		p, _ := m["plaintext"].(string)
		k, err := base64.StdEncoding.DecodeString(p)
		if err != nil || len(k) != EpochKeySize {
			clear(k)
			return fail(errorf(op, Other, "epoch %d: unwrapped key is not %d bytes", ns[i], EpochKeySize))
		}
		keys[ns[i]] = k
	}
	return keys, nil
}

// EpochKeySize is the size of an epoch key in bytes.
const EpochKeySize = 32

func nowString(t time.Time) string { return t.UTC().Format(time.RFC3339) }
