-- An integrity event (a forged, tampered or absurd remote version) is not
-- retried by every full pass: only a new version of the file, or the next
-- start of the agent, tries it again.
ALTER TABLE problems ADD COLUMN integrity INTEGER NOT NULL DEFAULT 0;
