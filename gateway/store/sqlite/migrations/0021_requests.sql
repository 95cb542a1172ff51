-- File requests and their drops (docs/SHARING.md, "Request files"). No
-- file name, no key the gateway can use: the public key is the link's
-- (a lock, not a key), the private key is wrapped under a matter epoch
-- key, and a drop is ciphertext to it. A request's one-time codes and
-- upload grants live in share_codes, share_attempts and share_grants,
-- keyed by the request's ID, so the limits per address count codes of
-- shares and requests together.
CREATE TABLE requests (
	id             TEXT PRIMARY KEY,
	matter         TEXT NOT NULL,
	recipient      TEXT NOT NULL,
	entity         TEXT NOT NULL,
	username       TEXT NOT NULL,
	created_us     INTEGER NOT NULL,
	expires_us     INTEGER NOT NULL,
	max_files      INTEGER NOT NULL,
	max_file_bytes INTEGER NOT NULL,
	max_bytes      INTEGER NOT NULL,
	files          INTEGER NOT NULL DEFAULT 0,
	bytes          INTEGER NOT NULL DEFAULT 0,
	public_key     BLOB NOT NULL,
	wrapped_key    BLOB NOT NULL,
	revoked_us     INTEGER NOT NULL DEFAULT 0,
	revoked_by     TEXT NOT NULL DEFAULT '',
	revoke_reason  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX requests_matter ON requests (matter);
CREATE INDEX requests_entity ON requests (entity);
CREATE TABLE drops (
	id             TEXT PRIMARY KEY,
	request        TEXT NOT NULL,
	matter         TEXT NOT NULL,
	sender         TEXT NOT NULL,
	size           INTEGER NOT NULL,
	object_key     TEXT NOT NULL,
	uploaded_us    INTEGER NOT NULL,
	claim_entity   TEXT NOT NULL DEFAULT '',
	claim_device   TEXT NOT NULL DEFAULT '',
	claim_until_us INTEGER NOT NULL DEFAULT 0,
	done_us        INTEGER NOT NULL DEFAULT 0,
	file           BLOB,
	done_by        TEXT NOT NULL DEFAULT '',
	problem        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX drops_matter ON drops (matter, uploaded_us);
CREATE INDEX drops_request ON drops (request);
