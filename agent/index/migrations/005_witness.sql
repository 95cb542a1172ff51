-- What this agent witnessed of each matter at the gateway (issue 20): the
-- highest change-feed sequence number and the newest signed audit
-- checkpoint it saw, the resyncs IT ran that it followed, and, once the
-- gateway went backwards or forked, why syncing stopped and the signed
-- head that showed it.
CREATE TABLE witness (
    matter     TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL DEFAULT 0,
    checkpoint TEXT NOT NULL DEFAULT '', -- JSON of the checkpoint
    resync     INTEGER NOT NULL DEFAULT 0,
    good_us    INTEGER NOT NULL DEFAULT 0, -- gateway time of the last head that checked out
    halted     TEXT NOT NULL DEFAULT '',
    evidence   TEXT NOT NULL DEFAULT '' -- JSON of the head that halted syncing
);
