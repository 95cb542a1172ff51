-- When the gateway decided a request and wrote its record (Unix µs), next
-- to time_us, when the request arrived: a refused request may have arrived
-- before the revocation that refused it. 0 for records written before
-- (their hash does not cover it: audit.Record.Sum, v1 form).
ALTER TABLE audit_records ADD COLUMN decided_us BIGINT NOT NULL DEFAULT 0;
