package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/lifecycle"
	"github.com/mattersync/mattersync/gateway/share"
)

// TestShareObjectsCollected (hostile review share-1, finding 2): share
// objects are the lifecycle's to delete. A revoked share's object goes
// once the grace has passed since it ended, a live one's stays, an object
// no share names (an orphan) goes once older than the grace, a held
// matter keeps them all, and shredding a matter deletes its share objects,
// live ones too, so its destruction record arrives.
func TestShareObjectsCollected(t *testing.T) {
	onBothStores(t, func(t *testing.T, o envOpts) {
		sc := share.DefaultConfig()
		sc.Default = share.PolicyOn
		sc.PublicURL = "https://share.firm.test/"
		sc.SMTP = share.SMTPConfig{Host: "127.0.0.1", Port: 9, From: "shares@firm.test", TLS: share.TLSNone}
		o.tune = func(c *gateway.Config) {
			c.Lifecycle.Poll = 100 * time.Millisecond
			c.Sharing = &sc
		}
		e := newEnv(t, o)
		const m, held, shred = "2026-0521", "2026-0522", "2026-0523"
		tok := e.token("alice", "matter-"+m+"-rw", "matter-"+held+"-rw", "matter-"+shred+"-rw")
		admin := e.token("root", auth.AdminGroup)
		share := func(matter string) api.Share {
			t.Helper()
			f := e.newFile(matter)
			id, _ := e.putChunk(matter, tok, 2000)
			e.commit(matter, tok, f, 0, id)
			body := object(5000)
			s := sha256.Sum256(body)
			r := e.do("POST", "/v1/matters/"+matter+"/shares?file="+f.String()+"&version=1&to=client@example.com", tok,
				map[string]string{api.HeaderChecksum: hex.EncodeToString(s[:])}, body)
			if r.status != http.StatusCreated {
				t.Fatalf("share: %d %s", r.status, r.body)
			}
			var sh api.Share
			json.Unmarshal(r.body, &sh)
			return sh
		}
		revoke := func(matter string, sh api.Share) {
			t.Helper()
			if r := e.do("DELETE", "/v1/matters/"+matter+"/shares/"+sh.ID, tok, nil, nil); r.status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.status, r.body)
			}
		}
		shareKeys := func(matter string) []string {
			var out []string
			for _, k := range e.objects("m/" + matter + "/s/") {
				out = append(out, strings.TrimPrefix(k, "m/"+matter+"/s/"))
			}
			slices.Sort(out)
			return out
		}
		want := func(what, matter string, ids ...string) {
			t.Helper()
			slices.Sort(ids)
			if got := shareKeys(matter); !slices.Equal(got, ids) {
				t.Fatalf("%s: share objects %v, want %v", what, got, ids)
			}
		}

		gone, live := share(m), share(m)
		revoke(m, gone)
		orphan := strings.Repeat("0f", 16)
		if _, err := e.minio.PutObject(context.Background(), e.bucket, "m/"+m+"/s/"+orphan, bytes.NewReader(make([]byte, 10)), 10, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		kept := share(held)
		revoke(held, kept)
		e.do("PUT", "/v1/admin/matters/"+held+"/hold", admin, nil, []byte(`{"reason": "litigation"}`))
		e.waitHoldStorage(held, admin, api.HoldStorageApplied)

		e.pass(lifecycle.PassOptions{}, 0)
		want("within the grace", m, gone.ID, live.ID, orphan)
		e.pass(lifecycle.PassOptions{}, 72*time.Hour)
		want("after the grace", m, live.ID)
		want("held matter after the grace", held, kept.ID)

		// Shred: the live share's object goes too, and the destruction
		// record arrives.
		share(shred)
		if r := e.do("POST", "/v1/admin/matters/"+shred+"/close", admin, nil, []byte(`{"reason": "done"}`)); r.status >= 300 {
			t.Fatalf("close: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/v1/admin/matters/"+shred+"/shred", admin, nil, []byte(`{"reason": "file closed"}`)); r.status != http.StatusAccepted {
			t.Fatalf("shred: %d %s", r.status, r.body)
		}
		var sh api.Shred
		deadline := time.Now().Add(60 * time.Second)
		for sh.Destruction == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no destruction record; objects left: %v", e.objects("m/"+shred+"/"))
			}
			time.Sleep(100 * time.Millisecond)
			r := e.do("GET", "/v1/admin/matters/"+shred+"/shred", admin, nil, nil)
			sh = api.Shred{}
			json.Unmarshal(r.body, &sh)
		}
		if left := e.objects("m/" + shred + "/"); len(left) != 0 {
			t.Fatalf("objects left after the destruction record: %v", left)
		}
	})
}
