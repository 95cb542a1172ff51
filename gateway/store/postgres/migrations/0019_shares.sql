-- Shares with people outside the firm (docs/SHARING.md). No file name, no
-- key: the share object is ciphertext under a key only the link carries.
-- sharing: the matter's policy (0 the gateway's default, 1 on, 2 off).
ALTER TABLE matters ADD COLUMN sharing BIGINT NOT NULL DEFAULT 0;
CREATE TABLE shares (
	id            TEXT PRIMARY KEY,
	matter        TEXT NOT NULL,
	file          BYTEA NOT NULL,
	version       BIGINT NOT NULL,
	recipient     TEXT NOT NULL,
	entity        TEXT NOT NULL,
	username      TEXT NOT NULL,
	created_us    BIGINT NOT NULL,
	expires_us    BIGINT NOT NULL,
	max_downloads BIGINT NOT NULL,
	downloads     BIGINT NOT NULL DEFAULT 0,
	size          BIGINT NOT NULL,
	object_key    TEXT NOT NULL,
	revoked_us    BIGINT NOT NULL DEFAULT 0,
	revoked_by    TEXT NOT NULL DEFAULT '',
	revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX shares_matter ON shares (matter);
CREATE INDEX shares_entity ON shares (entity);
CREATE INDEX shares_recipient ON shares (recipient);
-- One-time codes, hashed; attempts counts wrong codes tried while the
-- code was live, used_us marks the one use.
CREATE TABLE share_codes (
	share      TEXT NOT NULL,
	hash       BYTEA NOT NULL,
	recipient  TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL,
	used_us    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX share_codes_share ON share_codes (share, created_us);
CREATE INDEX share_codes_recipient ON share_codes (recipient, created_us);
CREATE TABLE share_attempts (
	share     TEXT NOT NULL,
	recipient TEXT NOT NULL,
	time_us   BIGINT NOT NULL
);
CREATE INDEX share_attempts_share ON share_attempts (share, time_us);
CREATE INDEX share_attempts_recipient ON share_attempts (recipient, time_us);
-- Download capabilities: a verified code grants one download, for
-- minutes; stored hashed.
CREATE TABLE share_grants (
	share      TEXT NOT NULL,
	hash       BYTEA NOT NULL,
	expires_us BIGINT NOT NULL,
	used_us    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX share_grants_share ON share_grants (share);
