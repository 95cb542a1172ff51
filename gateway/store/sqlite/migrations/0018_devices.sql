-- The device inventory (docs/API.md, "Device inventory"): one row per
-- agent install and user, the agent's last report (PUT /v1/device) and
-- when the gateway last saw it. Times in Unix microseconds, 0: never.
-- host is the computer's name: personal data the firm owns
-- (docs/OPERATIONS.md, "Device inventory").
CREATE TABLE devices (
	entity          TEXT NOT NULL,
	id              TEXT NOT NULL,
	username        TEXT NOT NULL,
	host            TEXT NOT NULL,
	os              TEXT NOT NULL,
	agent_version   TEXT NOT NULL,
	disk_state      TEXT NOT NULL,
	disk_method     TEXT NOT NULL,
	disk_detail     TEXT NOT NULL,
	wipe_on_revoke  BOOLEAN NOT NULL,
	wiped_us        BIGINT NOT NULL DEFAULT 0,
	last_sync_us    BIGINT NOT NULL DEFAULT 0,
	first_seen_us   BIGINT NOT NULL,
	reported_us     BIGINT NOT NULL,
	last_seen_us    BIGINT NOT NULL,
	revoked_seen_us BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (entity, id)
);
