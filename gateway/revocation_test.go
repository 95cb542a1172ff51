package gateway_test

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
)

// A revoked caller that sends a nonce gets the gateway's statement, signed
// with the audit signing key over that nonce and its own entity: what an
// agent under wipe_on_revoke needs before it removes anything. Without a
// valid nonce there is no statement, and an accepted caller gets none.
func TestRevocationStatement(t *testing.T) {
	e := newEnv(t, envOpts{})
	admin := e.token("ent-admin", "mattersync-admins")
	bob := e.token("ent-bob")
	nonce := strings.Repeat("ab", 32)
	if r := e.do("GET", "/v1/matters", bob, map[string]string{api.HeaderRevocationNonce: nonce}, nil); r.status != 200 {
		t.Fatalf("before the revocation: %d", r.status)
	}
	if r := e.do("POST", "/v1/admin/deny", admin, nil, []byte(`{"entity_id":"ent-bob"}`)); r.status != 201 {
		t.Fatalf("deny: %d %s", r.status, r.body)
	}
	statement := func(hdr map[string]string) *api.Revocation {
		t.Helper()
		r := e.do("GET", "/v1/matters", bob, hdr, nil)
		var body api.Error
		if err := json.Unmarshal(r.body, &body); err != nil || r.status != 403 || body.Code != api.CodeRevoked {
			t.Fatalf("revoked caller: %d %s", r.status, r.body)
		}
		return body.Revocation
	}
	pub := e.key.Public().(ed25519.PublicKey)
	rev := statement(map[string]string{api.HeaderRevocationNonce: nonce})
	if err := rev.Verify(pub, "ent-bob", nonce, rev.Time); err != nil {
		t.Fatalf("statement %+v: %v", rev, err)
	}
	if err := rev.Verify(pub, "ent-alice", nonce, rev.Time); err == nil {
		t.Error("the statement passes for another entity")
	}
	if err := rev.Verify(pub, "ent-bob", strings.Repeat("cd", 32), rev.Time); err == nil {
		t.Error("the statement passes for another nonce")
	}
	for _, bad := range []string{"", "short", strings.Repeat("AB", 32), strings.Repeat("ab", 65), strings.Repeat("zz", 32)} {
		if rev := statement(map[string]string{api.HeaderRevocationNonce: bad}); rev != nil {
			t.Errorf("nonce %q got a statement", bad)
		}
	}
}
