-- Chained checkpoints (gateway/audit, version 2): each signs the digest of
-- the checkpoint before it. Version 1 rows (before this) sign seq, hash and
-- time only.
ALTER TABLE audit_checkpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_checkpoints ADD COLUMN prev_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_checkpoints ADD COLUMN prev BYTEA NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000';
