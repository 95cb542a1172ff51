-- Membership history: every entity added to or taken out of a matter's
-- rw, ro or screened group, with who, when, why and how it was seen
-- (recorded by mattersync-admin, found in Vault by a sync, or the baseline
-- when the matter's history began: a row with entity '' marks that).
CREATE TABLE membership_history (
	matter     TEXT NOT NULL,
	n          INTEGER NOT NULL, -- 1, 2, ... per matter
	entity     TEXT NOT NULL,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	added      INTEGER NOT NULL,
	source     TEXT NOT NULL,
	changed_by TEXT NOT NULL,
	reason     TEXT NOT NULL,
	time_us    INTEGER NOT NULL,
	PRIMARY KEY (matter, n)
);
CREATE INDEX membership_history_entity ON membership_history (entity, time_us);
-- The alert rules ask whether an entity touched a matter in the last N
-- days (first access in 90 days): one index lookup, not a scan.
CREATE INDEX audit_entity ON audit_records (entity, matter, time_us);
