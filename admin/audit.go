package admin

// The gateway's audit log: verification of its hash chain and signed
// checkpoints, online (the gateway verifies) or offline (straight from a
// database, trusting only given keys), and export for a SIEM.

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/internal/fault"
)

// AuditLog is the gateway's audit log.
type AuditLog interface {
	AuditVerify(ctx context.Context, opts client.VerifyOptions) (audit.Report, error)
	AuditExport(ctx context.Context, q client.AuditQuery, fn func(*audit.Record) error) error
}

// VerifyAudit asks the gateway to verify its own log against its
// checkpoint keys. A broken log is a report with OK false, not an error.
func (s *Session) VerifyAudit(ctx context.Context, opts client.VerifyOptions) (audit.Report, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return audit.Report{}, err
	}
	return gw.AuditVerify(ctx, opts)
}

// VerifyStore verifies the audit log in a gateway database directly (a
// backup, or with the gateway down), trusting only keys. store is
// "sqlite:<path>" or a postgres:// URL (password from PGPASSWORD); a
// warning about an unverified database server goes to warn. A broken log
// is a report with OK false, not an error.
func VerifyStore(ctx context.Context, store string, keys []ed25519.PublicKey, opts audit.VerifyOptions, warn io.Writer) (audit.Report, error) {
	if len(keys) == 0 {
		return audit.Report{}, fault.Errorf(fault.Invalid, "verifying %s needs at least one trusted checkpoint public key", store)
	}
	src, closeSrc, err := openAuditStore(ctx, store, warn)
	if err != nil {
		return audit.Report{}, err
	}
	defer closeSrc()
	if h, ok := src.(interface {
		AuditHead(context.Context) (int64, audit.Hash, error)
	}); ok && opts.Progress != nil {
		opts.ProgressTotal, _, _ = h.AuditHead(ctx)
	}
	return audit.Verify(ctx, src, keys, opts)
}

// openAuditStore opens a store read-only for offline verification.
func openAuditStore(ctx context.Context, spec string, warn io.Writer) (audit.Source, func(), error) {
	switch {
	case strings.HasPrefix(spec, "sqlite:"):
		s, err := sqlite.OpenReadOnly(ctx, strings.TrimPrefix(spec, "sqlite:"))
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		if u, err := url.Parse(spec); err == nil {
			if m := u.Query().Get("sslmode"); m != "verify-full" && m != "verify-ca" {
				if m == "" {
					m = "prefer"
				}
				fmt.Fprintf(warn, "WARNING audit store: sslmode=%s does not verify the database server (use sslmode=verify-full)\n", m)
			}
		}
		s, err := postgres.Open(ctx, spec, postgres.Options{NoMigrate: true, MaxConns: 2})
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	return nil, nil, fault.Errorf(fault.Invalid, "audit store %q: use sqlite:<path> or a postgres:// URL", spec)
}

// ExportFormat is how ExportAudit writes records.
type ExportFormat string

// Export formats.
const (
	JSONLines ExportFormat = "jsonl" // one JSON record a line, for a SIEM
	CSV       ExportFormat = "csv"   // a header line, then one record a row
)

// ExportAudit writes the audit records q selects to w in format f and
// returns how many it wrote. No record for a user, entity or matter
// unknown to Vault is fault.NotFound (a typo), not an empty export.
func (s *Session) ExportAudit(ctx context.Context, q client.AuditQuery, f ExportFormat, w io.Writer) (int, error) {
	var write func(*audit.Record) error
	var flush func() error
	switch f {
	case JSONLines:
		enc := json.NewEncoder(w)
		write, flush = func(r *audit.Record) error { return enc.Encode(r) }, func() error { return nil }
	case CSV:
		cw := NewCSVWriter(w)
		cw.Write(csvHeader())
		write = func(r *audit.Record) error { cw.Write(csvRow(r)); return nil }
		flush = cw.Flush
	default:
		return 0, fault.Errorf(fault.Invalid, "export format %q: use %s or %s", f, JSONLines, CSV)
	}
	gw, err := s.gateway(ctx)
	if err != nil {
		return 0, err
	}
	if err := s.requireQueryMatter(ctx, q); err != nil {
		return 0, err
	}
	n := 0
	err = gw.AuditExport(ctx, q, func(r *audit.Record) error { n++; return write(r) })
	if ferr := flush(); err == nil {
		err = ferr
	}
	if err == nil && n == 0 {
		err = s.requireQueryUser(ctx, q)
	}
	return n, err
}

func csvHeader() []string {
	return []string{"seq", "time", "entity", "user", "device", "source", "matter", "action", "object", "result", "status", "bytes", "request_id", "prev_hash", "hash"}
}

func csvRow(r *audit.Record) []string {
	return []string{strconv.FormatInt(r.Seq, 10), r.Time.Format(time.RFC3339Nano), r.Entity, r.User, r.Device, r.Source, r.Matter,
		r.Action, r.Object, r.Result, strconv.Itoa(r.Status), strconv.FormatInt(r.Bytes, 10), r.RequestID, r.PrevHash.String(), r.Hash.String()}
}
