-- Each commit attempt writes its manifest under a key of its own, recorded
-- with the version, so a late write of a failed attempt cannot replace the
-- manifest of the version another attempt committed. '' = the version's
-- plain key m/<matter>/v/<file>/<version> (versions before this).
ALTER TABLE versions ADD COLUMN manifest_key TEXT NOT NULL DEFAULT '';
