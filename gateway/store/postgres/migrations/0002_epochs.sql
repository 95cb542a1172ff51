-- Epochs (FORMAT.md section 10): each matter's current epoch, never lowered,
-- and the epoch each version's manifest was sealed under. 0 = not known:
-- matters and tombstones from before this migration. BIGINT: epochs are
-- unsigned 32-bit.
ALTER TABLE matters ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE versions ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
