-- A closed matter (mattersync-admin matter close): the gateway refuses
-- new writes and the changes feed (410 matter_closed), and tells agents,
-- which stop syncing it and keep or remove their copies as their
-- on_matter_closed says (docs/LIFECYCLE.md, "Closing a matter").
-- closed_us: when (0: open); the first close is kept.
ALTER TABLE matters ADD COLUMN closed_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE matters ADD COLUMN closed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE matters ADD COLUMN close_reason TEXT NOT NULL DEFAULT '';
