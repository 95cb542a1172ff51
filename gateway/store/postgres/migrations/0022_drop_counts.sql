-- Each matter counts the drops ever uploaded to it: the combined feed's
-- drop news reads one row per matter instead of counting drops (which
-- grew with every upload ever made).
ALTER TABLE matters ADD COLUMN drops BIGINT NOT NULL DEFAULT 0;
UPDATE matters SET drops = (SELECT count(*) FROM drops WHERE drops.matter = matters.id);
