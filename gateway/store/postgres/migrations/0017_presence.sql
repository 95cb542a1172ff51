-- Presence: a document open by a user on a device (docs/API.md,
-- "Presence"). One row per (matter, file, entity, device); a row whose
-- expires_us has passed counts as closed and is removed, with an audit
-- record, by the next sweep. The 'presence' counter moves with every open,
-- close and expiry, so replicas learn of each other's changes.
CREATE TABLE presence (
	matter     TEXT NOT NULL,
	file       BYTEA NOT NULL,
	entity     TEXT NOT NULL,
	user_name  TEXT NOT NULL,
	device     TEXT NOT NULL,
	since_us   BIGINT NOT NULL,
	expires_us BIGINT NOT NULL,
	PRIMARY KEY (matter, file, entity, device)
);
CREATE INDEX presence_expires ON presence (expires_us);
INSERT INTO counters (name, value) VALUES ('presence', 0);
