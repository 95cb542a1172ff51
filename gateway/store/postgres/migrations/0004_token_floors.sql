-- Reissue stamps: an entity's identity tokens issued before not_before_us
-- are refused (after a matter remove or screen), so access ends before the
-- token expires. Changes bump the 'deny' counter, like the deny list.
CREATE TABLE token_floors (
	entity        TEXT PRIMARY KEY,
	not_before_us BIGINT NOT NULL,
	reason        TEXT NOT NULL,
	set_by        TEXT NOT NULL,
	time_us       BIGINT NOT NULL
);
