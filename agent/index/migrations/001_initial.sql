-- Matters this agent syncs. cursor is the last change-feed sequence applied.
CREATE TABLE matters (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    role    TEXT NOT NULL,          -- rw | ro
    folder  TEXT NOT NULL,          -- folder name below the root
    cursor  INTEGER NOT NULL DEFAULT 0,
    state   TEXT NOT NULL DEFAULT 'active',  -- active | removed
    last_sync_unix INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);

-- One row per file the agent has synced: what was on disk (size, mtime) when
-- it matched remote version `version` with content hash `hash`.
CREATE TABLE files (
    matter   TEXT NOT NULL REFERENCES matters(id) ON DELETE CASCADE,
    path     TEXT NOT NULL,         -- normalized, '/'-separated, relative to the matter folder
    file_id  TEXT NOT NULL,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    mode     INTEGER NOT NULL,
    hash     BLOB NOT NULL,
    version  INTEGER NOT NULL,      -- remote version this local copy equals
    PRIMARY KEY (matter, path)
);
CREATE UNIQUE INDEX files_by_id ON files (matter, file_id);

-- Conflict copies made by this agent, for `mattersync conflicts`.
CREATE TABLE conflicts (
    matter  TEXT NOT NULL,
    path    TEXT NOT NULL,          -- the file that kept the name
    copy    TEXT NOT NULL,          -- the conflict copy
    reason  TEXT NOT NULL,
    created_unix INTEGER NOT NULL,
    PRIMARY KEY (matter, copy)
);
