-- `mattersync-admin matter resync`: after the store was restored from a
-- backup, IT tells the agents that stopped on the rollback to start again
-- and commit what the restored store lacks. n counts a matter's resyncs;
-- the agents compare it with the one they last saw (MatterHead.Resync).
CREATE TABLE matter_resyncs (
	matter     TEXT NOT NULL,
	n          BIGINT NOT NULL, -- 1, 2, ... per matter
	seq        BIGINT NOT NULL, -- the matter's feed head when it ran
	by_user    TEXT NOT NULL,
	reason     TEXT NOT NULL,
	time_us    BIGINT NOT NULL,
	PRIMARY KEY (matter, n)
);
