-- The user and gateway this index belongs to (one row).
CREATE TABLE owner (
    entity  TEXT NOT NULL,
    gateway TEXT NOT NULL
);
