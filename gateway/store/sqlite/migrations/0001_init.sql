-- mattersync gateway metadata, SQLite. IDs are 32-byte blobs, times Unix
-- microseconds.
CREATE TABLE matters (
	id        TEXT PRIMARY KEY,
	seq       INTEGER NOT NULL DEFAULT 0,
	hold      INTEGER NOT NULL DEFAULT 0,
	hold_reason TEXT NOT NULL DEFAULT '',
	hold_by   TEXT NOT NULL DEFAULT '',
	hold_us   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE chunks (
	matter     TEXT NOT NULL,
	id         BLOB NOT NULL,
	size       INTEGER NOT NULL,
	created_us INTEGER NOT NULL,
	PRIMARY KEY (matter, id)
) WITHOUT ROWID;
CREATE TABLE files (
	matter  TEXT NOT NULL,
	id      BLOB NOT NULL,
	head    INTEGER NOT NULL,
	deleted INTEGER NOT NULL,
	PRIMARY KEY (matter, id)
) WITHOUT ROWID;
CREATE TABLE versions (
	matter     TEXT NOT NULL,
	file       BLOB NOT NULL,
	version    INTEGER NOT NULL,
	seq        INTEGER NOT NULL,
	deleted    INTEGER NOT NULL,
	size       INTEGER NOT NULL,
	entity     TEXT NOT NULL,
	device     TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	PRIMARY KEY (matter, file, version),
	UNIQUE (matter, seq)
);
-- Which chunks each version references: what garbage collection keeps.
CREATE TABLE version_chunks (
	matter  TEXT NOT NULL,
	file    BLOB NOT NULL,
	version INTEGER NOT NULL,
	chunk   BLOB NOT NULL,
	PRIMARY KEY (matter, file, version, chunk)
) WITHOUT ROWID;
CREATE INDEX version_chunks_chunk ON version_chunks (matter, chunk);
CREATE TABLE deny (
	entity     TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	reason     TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_us INTEGER NOT NULL
);
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('changes', 0), ('deny', 0);
CREATE TABLE audit_records (
	seq        INTEGER PRIMARY KEY,
	time_us    INTEGER NOT NULL,
	entity     TEXT NOT NULL,
	username   TEXT NOT NULL,
	device     TEXT NOT NULL,
	source     TEXT NOT NULL,
	matter     TEXT NOT NULL,
	action     TEXT NOT NULL,
	object     TEXT NOT NULL,
	result     TEXT NOT NULL,
	status     INTEGER NOT NULL,
	bytes      INTEGER NOT NULL,
	request_id TEXT NOT NULL,
	prev_hash  BLOB NOT NULL,
	hash       BLOB NOT NULL
);
CREATE INDEX audit_time ON audit_records (time_us);
CREATE INDEX audit_matter ON audit_records (matter, time_us);
CREATE INDEX audit_user ON audit_records (username, time_us);
CREATE TABLE audit_checkpoints (
	seq       INTEGER NOT NULL,
	key_id    TEXT NOT NULL,
	hash      BLOB NOT NULL,
	time_us   INTEGER NOT NULL,
	signature BLOB NOT NULL,
	PRIMARY KEY (seq, key_id)
);
