-- The newest change of the feed the agent applied (its sequence number,
-- file and version): a gateway that serves another change under that
-- number forked from what the agent saw.
ALTER TABLE witness ADD COLUMN at_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE witness ADD COLUMN at_file TEXT NOT NULL DEFAULT '';
ALTER TABLE witness ADD COLUMN at_version INTEGER NOT NULL DEFAULT 0;
