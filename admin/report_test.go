package admin

import (
	"context"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/fault"
)

func TestActivity(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	gw := newFakeGateway()
	gw.records = []audit.Record{
		{Time: at(0), User: "alice", Action: "matters.list", Result: audit.ResultOK},
		{Time: at(1), User: "alice", Matter: "m-2", Action: "chunk.put", Object: "c1", Bytes: 100, Result: audit.ResultOK},
		{Time: at(2), User: "alice", Matter: "m-1", Action: "chunk.get", Object: "c9", Bytes: 40, Result: audit.ResultOK},
		{Time: at(3), User: "alice", Matter: "m-1", Action: "chunk.get", Object: "c9", Bytes: 40, Result: audit.ResultOK},
		{Time: at(4), User: "alice", Matter: "m-1", Action: "file.get", Object: "f1@2", Bytes: 7, Result: audit.ResultOK},
		{Time: at(5), User: "alice", Matter: "m-1", Action: "file.delete", Object: "f1", Result: audit.ResultDenied},
		{Time: at(6), User: "bob", Matter: "m-1", Action: "chunk.get", Object: "c8", Bytes: 1, Result: audit.ResultOK},
		{Time: at(7), User: "alice", Matter: "m-2", Action: "file.commit", Object: "f2@1", Bytes: 3, Result: audit.ResultOK},
	}
	s, _ := session(gw)
	if _, err := s.Activity(ctx, client.AuditQuery{Since: t0}); fault.Of(err) != fault.Invalid {
		t.Fatalf("no user: %v", err)
	}
	if _, err := s.Activity(ctx, client.AuditQuery{User: "alice"}); fault.Of(err) != fault.Invalid {
		t.Fatalf("no start: %v", err)
	}
	act, err := s.Activity(ctx, client.AuditQuery{User: "alice", Since: t0})
	if err != nil {
		t.Fatal(err)
	}
	if len(act) != 3 || act[0].Matter != "" || act[1].Matter != "m-1" || act[2].Matter != "m-2" {
		t.Fatalf("matters %+v", act)
	}
	m1 := act[1]
	if !m1.First.Equal(at(2)) || !m1.Last.Equal(at(5)) || m1.BytesRead != 87 || m1.BytesWritten != 0 || m1.Refused != 1 ||
		m1.Actions["chunk.get"] != 2 || m1.Actions["file.get"] != 1 || len(m1.Actions) != 2 {
		t.Errorf("m-1: %+v", m1)
	}
	if len(m1.Objects) != 2 || m1.Objects[0] != "chunk.get c9" || m1.Objects[1] != "file.get f1@2" {
		t.Errorf("m-1 objects %q", m1.Objects)
	}
	if m2 := act[2]; m2.BytesWritten != 103 || m2.BytesRead != 0 || len(m2.Objects) != 2 {
		t.Errorf("m-2: %+v", m2)
	}
	if len(act[0].Objects) != 0 || act[0].Actions["matters.list"] != 1 {
		t.Errorf("records without a matter: %+v", act[0])
	}
}
