package admin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/fault"
)

func TestExportAudit(t *testing.T) {
	ctx := context.Background()
	gw := newFakeGateway()
	when := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	gw.records = []audit.Record{
		{Seq: 1, Time: when, User: "alice", Device: "LAPTOP-7", Matter: "m-1", Action: "chunk.get", Object: "c1", Result: audit.ResultOK, Status: 200, Bytes: 5},
		{Seq: 2, Time: when, User: "bob", Matter: "m-1", Action: "file.get", Object: "f, \"quoted\"", Result: audit.ResultDenied, Status: 403},
	}
	s, _ := session(gw)

	var out bytes.Buffer
	n, err := s.ExportAudit(ctx, client.AuditQuery{}, CSV, &out)
	if err != nil || n != 2 {
		t.Fatalf("csv: %d, %v", n, err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "seq" || rows[1][3] != "alice" || rows[1][4] != "LAPTOP-7" || rows[2][8] != "f, \"quoted\"" || rows[2][10] != "403" {
		t.Fatalf("csv rows %q, %v", rows, err)
	}
	if len(rows[0]) != len(rows[1]) {
		t.Fatalf("header has %d columns, rows %d", len(rows[0]), len(rows[1]))
	}

	out.Reset()
	if n, err := s.ExportAudit(ctx, client.AuditQuery{User: "bob"}, JSONLines, &out); err != nil || n != 1 {
		t.Fatalf("jsonl: %d, %v", n, err)
	}
	var r audit.Record
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Seq != 2 || r.User != "bob" {
		t.Fatalf("jsonl line %q: %v", out.String(), err)
	}

	if _, err := s.ExportAudit(ctx, client.AuditQuery{}, "xml", &out); fault.Of(err) != fault.Invalid {
		t.Fatalf("unknown format: %v", err)
	}
	gw.fail = errDown
	if _, err := s.ExportAudit(ctx, client.AuditQuery{}, CSV, &out); err != errDown {
		t.Fatalf("gateway down: %v", err)
	}
}

func TestVerifyStoreArguments(t *testing.T) {
	ctx := context.Background()
	key := make(ed25519.PublicKey, ed25519.PublicKeySize)
	if _, err := VerifyStore(ctx, "sqlite:/nonexistent", nil, audit.VerifyOptions{}, nil); fault.Of(err) != fault.Invalid {
		t.Errorf("no keys: %v", err)
	}
	var warn bytes.Buffer
	if _, err := VerifyStore(ctx, "mysql://db/x", []ed25519.PublicKey{key}, audit.VerifyOptions{}, &warn); fault.Of(err) != fault.Invalid || !strings.Contains(err.Error(), "sqlite:<path> or a postgres:// URL") {
		t.Errorf("unknown store: %v", err)
	}
}
