package store

import "time"

// Resync is one `mattersync-admin matter resync` of a matter: after the
// store was restored from a backup, agents that stopped on the rollback
// start again from the store as it is and commit what it lacks.
type Resync struct {
	Matter string
	N      int64 // 1, 2, ... per matter; set by the store
	Seq    int64 // the matter's feed head when it ran; set by the store
	By     string
	Reason string
	Time   time.Time
}
