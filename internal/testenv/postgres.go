package testenv

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresDSN is the machine's PostgreSQL server (trust auth); set
// MATTERSYNC_TEST_PG_DSN to use another.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Postgres creates a fresh database for t on the machine's PostgreSQL server,
// drops it when t ends, and returns its DSN.
func Postgres(t testing.TB) string {
	t.Helper()
	skipShort(t, "PostgreSQL")
	admin := os.Getenv("MATTERSYNC_TEST_PG_DSN")
	if admin == "" {
		admin = DefaultPostgresDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, "PostgreSQL at %s: %v (start it with `pg_ctlcluster <version> main start`, or set MATTERSYNC_TEST_PG_DSN)", redact(admin), err)
		return ""
	}
	defer conn.Close(ctx)
	name := RandomName("mattersync_test_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testenv: parse DSN: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// redact hides a password in a DSN before it reaches a log.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}
