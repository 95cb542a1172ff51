-- Legal holds the storage enforces (docs/LIFECYCLE.md): a hold sets the S3
-- Object Lock legal hold on every object of its matter, and lifting it
-- clears them, in a pass the lifecycle runner resumes from worm_cursor (the
-- last key done). worm_state: '' (nothing held), applying, applied,
-- clearing, failed (worm_error says why; tried again). worm_gen counts the
-- hold's changes: a pass of an older one stops.
ALTER TABLE matters ADD COLUMN worm_state TEXT NOT NULL DEFAULT '';
ALTER TABLE matters ADD COLUMN worm_gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE matters ADD COLUMN worm_cursor TEXT NOT NULL DEFAULT '';
ALTER TABLE matters ADD COLUMN worm_objects INTEGER NOT NULL DEFAULT 0;
ALTER TABLE matters ADD COLUMN worm_error TEXT NOT NULL DEFAULT '';
ALTER TABLE matters ADD COLUMN worm_us INTEGER NOT NULL DEFAULT 0;
-- Holds set before this never reached the storage.
UPDATE matters SET worm_state = 'applying' WHERE hold;
