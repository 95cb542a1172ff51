-- mattersync gateway metadata, PostgreSQL. IDs are 32-byte bytea, times
-- Unix microseconds (the audit hash covers them, so no timezone rounding).
CREATE TABLE matters (
	id          TEXT PRIMARY KEY,
	seq         BIGINT NOT NULL DEFAULT 0,
	hold        BOOLEAN NOT NULL DEFAULT false,
	hold_reason TEXT NOT NULL DEFAULT '',
	hold_by     TEXT NOT NULL DEFAULT '',
	hold_us     BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE chunks (
	matter     TEXT NOT NULL,
	id         BYTEA NOT NULL,
	size       BIGINT NOT NULL,
	created_us BIGINT NOT NULL,
	PRIMARY KEY (matter, id)
);
CREATE TABLE files (
	matter  TEXT NOT NULL,
	id      BYTEA NOT NULL,
	head    BIGINT NOT NULL,
	deleted BOOLEAN NOT NULL,
	PRIMARY KEY (matter, id)
);
CREATE TABLE versions (
	matter     TEXT NOT NULL,
	file       BYTEA NOT NULL,
	version    BIGINT NOT NULL,
	seq        BIGINT NOT NULL,
	deleted    BOOLEAN NOT NULL,
	size       BIGINT NOT NULL,
	entity     TEXT NOT NULL,
	device     TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	PRIMARY KEY (matter, file, version),
	UNIQUE (matter, seq)
);
-- Which chunks each version references: what garbage collection keeps.
CREATE TABLE version_chunks (
	matter  TEXT NOT NULL,
	file    BYTEA NOT NULL,
	version BIGINT NOT NULL,
	chunk   BYTEA NOT NULL,
	PRIMARY KEY (matter, file, version, chunk)
);
CREATE INDEX version_chunks_chunk ON version_chunks (matter, chunk);
CREATE TABLE deny (
	entity     TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	reason     TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_us BIGINT NOT NULL
);
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('changes', 0), ('deny', 0);
CREATE TABLE audit_records (
	seq        BIGINT PRIMARY KEY,
	time_us    BIGINT NOT NULL,
	entity     TEXT NOT NULL,
	username   TEXT NOT NULL,
	device     TEXT NOT NULL,
	source     TEXT NOT NULL,
	matter     TEXT NOT NULL,
	action     TEXT NOT NULL,
	object     TEXT NOT NULL,
	result     TEXT NOT NULL,
	status     INTEGER NOT NULL,
	bytes      BIGINT NOT NULL,
	request_id TEXT NOT NULL,
	prev_hash  BYTEA NOT NULL,
	hash       BYTEA NOT NULL
);
CREATE INDEX audit_time ON audit_records (time_us);
CREATE INDEX audit_matter ON audit_records (matter, time_us);
CREATE INDEX audit_user ON audit_records (username, time_us);
-- The chain head: the row every append locks, so replicas append in turn.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL,
	hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE audit_checkpoints (
	seq       BIGINT NOT NULL,
	key_id    TEXT NOT NULL,
	hash      BYTEA NOT NULL,
	time_us   BIGINT NOT NULL,
	signature BYTEA NOT NULL,
	PRIMARY KEY (seq, key_id)
);
