package api

import (
	"crypto/ed25519"
	"errors"
	"strconv"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
)

// IntegrityKind is what an agent found wrong (IntegrityReport.Kind).
type IntegrityKind string

// The integrity events an agent reports. Each is audited as the action
// "integrity.<kind>", which the integrity alert rule fires on.
const (
	// IntegrityChunkAuth: a chunk did not open (authentication failed,
	// wrong ID, size or matter). Object: the chunk ID.
	IntegrityChunkAuth IntegrityKind = "chunk_auth"
	// IntegrityManifestAuth: a file version's manifest did not open, or
	// did not match what the gateway says of it. Object: the file ID.
	IntegrityManifestAuth IntegrityKind = "manifest_auth"
	// IntegrityRefusedPath: a manifest names a path the format refuses
	// (outside the matter folder, the agent's own folder). Object: the
	// file ID (the path itself never goes to the gateway).
	IntegrityRefusedPath IntegrityKind = "refused_path"
	// IntegrityTooLarge: a manifest declares more than the agent's
	// max_file_size (a dedup bomb). Object: the file ID.
	IntegrityTooLarge IntegrityKind = "too_large"
	// IntegrityRollback: the gateway's feed or signed head went backwards
	// from what this agent saw. Object: "seq:<seen>:<served>".
	IntegrityRollback IntegrityKind = "rollback"
	// IntegrityFork: the gateway serves a checkpoint that does not extend
	// the one this agent holds, or a head whose signature fails. Object:
	// "checkpoint:<held seq>:<served seq>".
	IntegrityFork IntegrityKind = "fork"
	// IntegrityResync: the agent followed a resync the gateway's signed
	// head announced and took the gateway's state as its new baseline.
	// Whoever can write the gateway's database could announce one, so
	// every agent says when it follows one: IT matches these against
	// admin.matter.resync records. Object: "resync:<n>". Audited, not
	// alerted (a real resync makes one per laptop).
	IntegrityResync IntegrityKind = "resync"
)

// ValidIntegrityKind reports whether k is one of the kinds above.
func ValidIntegrityKind(k IntegrityKind) bool {
	switch k {
	case IntegrityChunkAuth, IntegrityManifestAuth, IntegrityRefusedPath, IntegrityTooLarge, IntegrityRollback, IntegrityFork, IntegrityResync:
		return true
	}
	return false
}

// MaxIntegrityObject bounds IntegrityReport.Object.
const MaxIntegrityObject = 128

// ValidIntegrityObject reports whether s may be an integrity event's
// object: 1 to MaxIntegrityObject characters of [0-9a-z:._=-] (an ID in
// hex, or "seq:1000:500"): never a name, never anything to escape.
func ValidIntegrityObject(s string) bool {
	if len(s) == 0 || len(s) > MaxIntegrityObject {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && c != ':' && c != '.' && c != '_' && c != '=' && c != '-' {
			return false
		}
	}
	return true
}

// IntegrityReport is the body of POST /v1/matters/{m}/integrity: an agent
// tells the gateway (and through its audit log and alerts, IT) what it
// refused. Version is the file version concerned, if any.
type IntegrityReport struct {
	Kind    IntegrityKind `json:"kind"`
	Object  string        `json:"object"`
	Device  string        `json:"device"`
	Version int64         `json:"version,omitempty"`
}

// MaxHeadPath bounds how many checkpoints one MatterHead carries.
const MaxHeadPath = 1000

// MatterHead answers GET /v1/matters/{m}/head: what an agent witnesses.
// Seq is the matter's change-feed head, Resync the number of `matter
// resync` runs IT made on the matter (agents that stopped on a rollback
// start again when it grows), Checkpoint the newest signed audit
// checkpoint (nil before the first), Path the stored checkpoints after the
// one the agent asked from (?after=<seq>), oldest first, ending with
// Checkpoint unless More (ask again from the last), At the change at the
// sequence number asked about (?seq=<n>). Signature is the
// gateway's audit key over HeadMessage.
type MatterHead struct {
	Matter     string             `json:"matter"`
	Seq        int64              `json:"seq"`
	Resync     int64              `json:"resync"`
	Time       time.Time          `json:"time"`
	Checkpoint *audit.Checkpoint  `json:"checkpoint,omitempty"`
	Path       []audit.Checkpoint `json:"path"`
	// At is the feed's change with the sequence number the agent asked
	// about (?seq=<n>), nil if there is none (beyond the head, or purged):
	// an agent compares it with the change it saw there.
	At        *Change `json:"at,omitempty"`
	More      bool    `json:"more,omitempty"`
	Signature []byte  `json:"signature"`
}

// HeadMessage is what the gateway signs in a MatterHead: a line per field
// under its own domain string, so it can never pass for a checkpoint or a
// revocation statement.
func HeadMessage(h *MatterHead) []byte {
	cp := "-"
	if h.Checkpoint != nil {
		d := h.Checkpoint.Digest()
		cp = strconv.FormatInt(h.Checkpoint.Seq, 10) + ":" + d.String()
	}
	at := "-"
	if h.At != nil {
		at = strconv.FormatInt(h.At.Seq, 10) + ":" + h.At.FileID + ":" + strconv.FormatInt(h.At.Version, 10) + ":" + strconv.FormatBool(h.At.Deleted)
	}
	return []byte("mattersync matter head v1\n" + h.Matter + "\n" + strconv.FormatInt(h.Seq, 10) + "\n" +
		strconv.FormatInt(h.Resync, 10) + "\n" + cp + "\n" + at + "\n" + strconv.FormatInt(h.Time.UnixMicro(), 10) + "\n")
}

// VerifyHead checks the gateway's signature over h. It signs the newest
// checkpoint's digest, and the path links to it digest by digest, so the
// checkpoints' own signatures (by whichever audit key signed each, keys
// change) need no check here; audit verify checks them.
func VerifyHead(pub ed25519.PublicKey, h *MatterHead) error {
	if !ed25519.Verify(pub, HeadMessage(h), h.Signature) {
		return errors.New("the matter head's signature does not verify with the gateway's public key")
	}
	return nil
}

// ResyncRequest is the body of POST /v1/admin/matters/{m}/resync.
type ResyncRequest struct {
	Reason string `json:"reason"`
}

// Resync answers it: the matter's new resync count.
type Resync struct {
	Matter string    `json:"matter"`
	Resync int64     `json:"resync"`
	Seq    int64     `json:"seq"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}
