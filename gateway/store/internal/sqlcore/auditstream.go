package sqlcore

// Streaming the audit checkpoints, for verification in constant memory.

import (
	"context"

	"github.com/mattersync/mattersync/gateway/audit"
)

// EachCheckpoint implements audit.CheckpointStreamer: every checkpoint in
// Seq order, read as a stream (a log of years holds millions).
func (s *Store) EachCheckpoint(ctx context.Context, fn func(*audit.Checkpoint) error) error {
	rows, err := s.db.Read().Query(ctx, `SELECT `+checkpointCols+` FROM audit_checkpoints ORDER BY seq, key_id`)
	if err != nil {
		return s.wrap("checkpoints", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return s.wrap("checkpoints", err)
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap("checkpoints", err)
	}
	return nil
}
