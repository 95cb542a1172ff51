-- Shredding a closed matter removes its records and, through the deletion
-- queue, its objects (docs/LIFECYCLE.md, "Closing a matter"). shredded_us:
-- when; shred_objects and shred_bytes: what the deletions of its objects
-- have reclaimed so far. When none is left, a destruction record signed
-- with the gateway's audit key says who, when, why and how much.
ALTER TABLE matters ADD COLUMN shredded_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE matters ADD COLUMN shredded_by TEXT NOT NULL DEFAULT '';
ALTER TABLE matters ADD COLUMN shred_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE matters ADD COLUMN shred_objects INTEGER NOT NULL DEFAULT 0;
ALTER TABLE matters ADD COLUMN shred_bytes INTEGER NOT NULL DEFAULT 0;
CREATE TABLE destruction_records (
	matter    TEXT PRIMARY KEY,
	record    TEXT NOT NULL, -- JSON, as signed
	key_id    TEXT NOT NULL,
	signature BLOB NOT NULL,
	time_us   INTEGER NOT NULL
);
