-- Lasting problems with one file of a matter (key: file ID): a remote change
-- that could not be applied here. Kept across restarts so full passes retry
-- them and status keeps showing them until they clear.
CREATE TABLE problems (
    matter  TEXT NOT NULL,
    key     TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (matter, key)
);
