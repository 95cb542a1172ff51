-- The committer's user name from the token, beside the entity ID, so that
-- `mattersync versions` and conflict notices can name a colleague. The
-- gateway already sees user names (audit records carry them); file names
-- stay on the laptops. '' for versions committed before.
ALTER TABLE versions ADD COLUMN username TEXT NOT NULL DEFAULT '';
