-- Matter lifecycle (docs/LIFECYCLE.md). A matter's own retention policy,
-- which replaces the firm's default (gateway config, lifecycle.retention)
-- for that matter.
CREATE TABLE retention (
	matter        TEXT PRIMARY KEY,
	versions_days INTEGER NOT NULL,
	min_versions  INTEGER NOT NULL,
	deleted_days  INTEGER NOT NULL,
	reason        TEXT NOT NULL,
	set_by        TEXT NOT NULL,
	time_us       INTEGER NOT NULL
);
-- Objects whose records a purge, a collection or a shred removed, to
-- delete from the bucket: queued in the transaction that removes the
-- records, deleted when the bucket answers. kind: 1 chunk, 2 manifest;
-- ref: the chunk or file ID; plain: a key without attempt suffix. state:
-- pending, or deleting (claimed by a runner: claim, claimed_us). A chunk
-- upload finding its pending key takes it back (the object stays), and
-- finding it deleting is refused (sent again once the object is gone).
CREATE TABLE doomed_objects (
	key        TEXT PRIMARY KEY,
	matter     TEXT NOT NULL,
	kind       INTEGER NOT NULL,
	ref        BLOB NOT NULL,
	version    INTEGER NOT NULL,
	plain      INTEGER NOT NULL,
	size       INTEGER NOT NULL,
	why        TEXT NOT NULL,
	queued_us  INTEGER NOT NULL,
	state      TEXT NOT NULL DEFAULT 'pending',
	claim      TEXT NOT NULL DEFAULT '',
	claimed_us INTEGER NOT NULL DEFAULT 0,
	note       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX doomed_matter ON doomed_objects (matter, key);
-- One lifecycle runner at a time across replicas: the holder of a lease
-- renews it while it works; another replica takes it once it expires.
CREATE TABLE leases (
	name     TEXT PRIMARY KEY,
	holder   TEXT NOT NULL,
	until_us INTEGER NOT NULL
);
-- Runs of purge and garbage collection, scheduled or asked for by an
-- administrator (requested_by), with their progress: any replica answers
-- for a run another one does.
CREATE TABLE lifecycle_runs (
	id           INTEGER PRIMARY KEY,
	matter       TEXT NOT NULL,
	dry_run      INTEGER NOT NULL,
	requested_by TEXT NOT NULL,
	state        TEXT NOT NULL,
	replica      TEXT NOT NULL DEFAULT '',
	progress     TEXT NOT NULL DEFAULT '',
	summary      TEXT NOT NULL DEFAULT '',
	error        TEXT NOT NULL DEFAULT '',
	requested_us INTEGER NOT NULL,
	started_us   INTEGER NOT NULL DEFAULT 0,
	updated_us   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX lifecycle_runs_state ON lifecycle_runs (state, id);
