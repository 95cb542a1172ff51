-- Legal holds keep their history: every hold on and off, with who, when,
-- the reason (required for both) and the case reference. matters keeps the
-- current state, now with its case reference too.
ALTER TABLE matters ADD COLUMN hold_case TEXT NOT NULL DEFAULT '';
CREATE TABLE hold_history (
	matter     TEXT NOT NULL,
	n          BIGINT NOT NULL, -- 1, 2, ... per matter
	hold       BOOLEAN NOT NULL,
	reason     TEXT NOT NULL,
	case_ref   TEXT NOT NULL,
	changed_by TEXT NOT NULL,
	time_us    BIGINT NOT NULL,
	PRIMARY KEY (matter, n)
);
