package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Witness is what the agent saw of one matter at the gateway (see
// agent/witness.go). Checkpoint and Evidence are JSON, opaque here.
type Witness struct {
	Matter     string
	Seq        int64
	Checkpoint string
	Resync     int64
	// Good is the gateway's time in the last head that checked out.
	Good time.Time
	// Halted says why syncing the matter stopped ("" while it syncs);
	// Evidence is the signed head that showed it.
	Halted, Evidence string
	// AtSeq, AtFile and AtVersion are the newest change of the feed the
	// agent applied (see Witnessed).
	AtSeq     int64
	AtFile    string
	AtVersion int64
}

// Witness returns the matter's witness row (the zero row, for matter, if
// there is none yet).
func (d *DB) Witness(ctx context.Context, matter string) (Witness, error) {
	w := Witness{Matter: matter}
	var us int64
	err := d.db.QueryRowContext(ctx, `SELECT seq, checkpoint, resync, good_us, halted, evidence, at_seq, at_file, at_version FROM witness WHERE matter = ?`, matter).
		Scan(&w.Seq, &w.Checkpoint, &w.Resync, &us, &w.Halted, &w.Evidence, &w.AtSeq, &w.AtFile, &w.AtVersion)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return w, nil
	case err != nil:
		return w, fmt.Errorf("index: witness: %w", err)
	}
	if us != 0 {
		w.Good = time.UnixMicro(us).UTC()
	}
	return w, nil
}

func putWitness(ctx context.Context, tx *sql.Tx, w Witness) error {
	var us int64
	if !w.Good.IsZero() {
		us = w.Good.UnixMicro()
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO witness (matter, seq, checkpoint, resync, good_us, halted, evidence, at_seq, at_file, at_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (matter) DO UPDATE SET seq = excluded.seq, checkpoint = excluded.checkpoint, resync = excluded.resync,
		good_us = excluded.good_us, halted = excluded.halted, evidence = excluded.evidence,
		at_seq = excluded.at_seq, at_file = excluded.at_file, at_version = excluded.at_version`,
		w.Matter, w.Seq, w.Checkpoint, w.Resync, us, w.Halted, w.Evidence, w.AtSeq, w.AtFile, w.AtVersion)
	return err
}

// PutWitness stores the matter's witness row.
func (d *DB) PutWitness(ctx context.Context, w Witness) error {
	if err := d.tx(ctx, func(tx *sql.Tx) error { return putWitness(ctx, tx, w) }); err != nil {
		return fmt.Errorf("index: witness: %w", err)
	}
	return nil
}

// Resynced stores, in one transaction, what following a resync changes:
// the rows of files whose remote state changed (see agent/witness.go), the
// matter's cursor back to 0 (the feed is read again from its start) and
// the witness row. A crash before it leaves everything as it was, so the
// resync is followed again at the next start.
func (d *DB) Resynced(ctx context.Context, w Witness, rows []File, gone []string) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		for _, f := range rows {
			if _, err := tx.ExecContext(ctx, `UPDATE files SET size = ?, mtime_ns = ?, hash = ?, version = ? WHERE matter = ? AND path = ?`,
				f.Size, f.MtimeNs, f.Hash, f.Version, w.Matter, f.Path); err != nil {
				return err
			}
		}
		for _, p := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM files WHERE matter = ? AND path = ?`, w.Matter, p); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE matters SET cursor = 0 WHERE id = ?`, w.Matter); err != nil {
			return err
		}
		return putWitness(ctx, tx, w)
	})
	if err != nil {
		return fmt.Errorf("index: resync: %w", err)
	}
	return nil
}

// Witnessed records that the agent applied the feed's change seq (file,
// version), if it is newer than the one recorded.
func (d *DB) Witnessed(ctx context.Context, matter string, seq int64, file string, version int64) error {
	return d.exec(ctx, "witnessed", `INSERT INTO witness (matter, seq, at_seq, at_file, at_version) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (matter) DO UPDATE SET seq = max(seq, excluded.seq), at_seq = excluded.at_seq, at_file = excluded.at_file,
		at_version = excluded.at_version WHERE excluded.at_seq > witness.at_seq`, matter, seq, seq, file, version)
}
