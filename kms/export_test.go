package kms

import "time"

// SetClock replaces the clock a Keyring uses for its key and token TTLs, so
// tests step past them without waiting.
func SetClock(k *Keyring, now func() time.Time) { k.s.now = now }

// CachedKeys returns the Keyring's cached key slices themselves (not
// copies), so a test can check that Wipe zeroes them.
func CachedKeys(k *Keyring) [][]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out [][]byte
	for _, e := range k.matters {
		for _, key := range e.keys {
			out = append(out, key)
		}
	}
	return out
}

// WrapForTest classifies err as every kms operation does.
func WrapForTest(op string, err error) error { return wrap(op, err) }
