package format

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MaxMatterIDLen bounds matter IDs so they fit, with prefixes, in Vault
// policy, group and key names and in S3 object keys.
const MaxMatterIDLen = 40

// ValidateMatterID reports whether id is a valid matter ID: 1 to 40
// characters of lowercase ASCII letters, digits and '-', starting and ending
// with a letter or digit (e.g. "2026-0001"), and not ending in "-rw", "-ro"
// or "-screened". One rule for every component, because the ID is part of
// Vault names, S3 keys and the associated data of every sealed object.
// Lowercase only, so two spellings can never name two matters; and no role
// suffix, so matter "x-screened" can never share a Vault group or policy
// name with matter "x"'s ethical wall.
func ValidateMatterID(id string) error {
	if id == "" {
		return errors.New("format: matter ID is empty")
	}
	if len(id) > MaxMatterIDLen {
		return fmt.Errorf("format: matter ID is %d characters long, the limit is %d", len(id), MaxMatterIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i != 0 && i != len(id)-1:
		default:
			return fmt.Errorf("format: matter ID %q: character %q at position %d is not allowed (use a-z, 0-9 and inner '-')", id, c, i)
		}
	}
	for _, suffix := range []string{"-rw", "-ro", "-screened"} {
		if strings.HasSuffix(id, suffix) {
			return fmt.Errorf("format: matter ID %q ends in %q, which is reserved for Vault group names", id, suffix)
		}
	}
	return nil
}

// IDSize is the size in bytes of chunk IDs and file IDs.
const IDSize = 32

// ID is a chunk ID or a file ID: 32 bytes of keyed hash, written as 64
// lowercase hex characters wherever it leaves the process.
type ID [IDSize]byte

// String returns the 64-character lowercase hex form.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID parses the 64-character lowercase hex form. Uppercase is refused so
// that every ID has exactly one spelling (object keys, database rows).
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("format: ID must be %d hex characters, got %d", 2*IDSize, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return id, fmt.Errorf("format: ID: character %q at position %d is not lowercase hex", c, i)
		}
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("format: ID: %w", err)
	}
	return id, nil
}
