-- Push to replicas (docs/GATEWAY.md, "Deny list: pushed, polled, fail
-- closed"): the transaction that moves the deny generation (a deny-list
-- change or a reissue stamp) or a matter's sequence number (a commit)
-- notifies channel 'mattersync' in itself, so the notification is sent
-- exactly when the change commits and never for one rolled back. Every
-- replica LISTENs on a connection of its own and refreshes at once; the
-- counters poll stays the fallback. Identical payloads of one transaction
-- are sent once (a batch commit to one matter notifies once).
CREATE FUNCTION mattersync_notify_deny() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mattersync', 'deny');
	RETURN NULL;
END
$$;
CREATE TRIGGER counters_notify_deny AFTER UPDATE ON counters FOR EACH ROW
	WHEN (NEW.name = 'deny' AND NEW.value <> OLD.value) EXECUTE FUNCTION mattersync_notify_deny();
CREATE FUNCTION mattersync_notify_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mattersync', 'commit ' || NEW.id);
	RETURN NULL;
END
$$;
CREATE TRIGGER matters_notify_commit AFTER UPDATE OF seq ON matters FOR EACH ROW
	WHEN (NEW.seq <> OLD.seq) EXECUTE FUNCTION mattersync_notify_commit();
