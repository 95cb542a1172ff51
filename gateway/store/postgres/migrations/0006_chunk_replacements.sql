-- A writer may replace a chunk that fails verification (a planted chunk):
-- the new object goes under a key of its own, recorded here, and the old
-- one stays where it was. '' = the chunk's plain key m/<matter>/c/<id>.
ALTER TABLE chunks ADD COLUMN object_key TEXT NOT NULL DEFAULT '';
-- Every replacement, oldest first: which object gave way to which, by whom.
CREATE TABLE chunk_replacements (
	matter     TEXT NOT NULL,
	id         BYTEA NOT NULL,
	old_key    TEXT NOT NULL,
	old_size   BIGINT NOT NULL,
	old_sha256 BYTEA NOT NULL,
	new_key    TEXT NOT NULL,
	new_size   BIGINT NOT NULL,
	new_sha256 BYTEA NOT NULL,
	entity     TEXT NOT NULL,
	device     TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	PRIMARY KEY (matter, id, new_key)
);
