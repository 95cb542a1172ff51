-- The SHA-256 of each version's chunk list exactly as committed (the
-- 32-byte IDs in order, duplicates included; api.ChunkListSum), which
-- readers compare with the manifest they open: the commit body's list is
-- bound to the manifest. NULL for versions committed before.
ALTER TABLE versions ADD COLUMN chunk_list_sha256 BYTEA;
