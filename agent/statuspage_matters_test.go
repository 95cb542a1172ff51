package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type fakeSelection struct {
	*fakeActions
}

func (fakeSelection) MatterList(context.Context) ([]MatterInfo, error) {
	return []MatterInfo{
		{ID: "2026-0001", Name: hostileName, Role: "rw", Selected: true, Here: true, State: "idle", Files: 3, Bytes: 2048},
		{ID: "2026-0002", Name: "Other", Role: "ro"},
	}, nil
}

// The page lists the user's matters and records a choice to remove one
// from this computer (or add one), as `mattersync matters remove` does; a
// matter that is not the user's is refused. Documents open elsewhere are
// shown, escaped.
func TestStatusPageMattersAndPresence(t *testing.T) {
	_, dir := startPage(t, fakeSelection{&fakeActions{}})
	c, base := signIn(t, dir)
	_, body := get(t, c, base+"/matters")
	if !strings.Contains(body, "Remove from this computer") || !strings.Contains(body, "Add to this computer") || strings.Contains(body, "<script") {
		t.Fatalf("matters page:\n%s", body)
	}
	csrf := between(body, `name="csrf" value="`, `"`)
	resp, out := do(t, c, postForm(t, base+"/matters", url.Values{"m": {"2026-0001"}, "on": {"0"}, "csrf": {csrf}}))
	if resp.StatusCode != http.StatusOK || !strings.Contains(out, "will be removed from this computer") {
		t.Fatalf("remove: %s\n%s", resp.Status, out)
	}
	ch, err := LoadMatterChoices(dir)
	if err != nil || len(ch.Remove) != 1 || ch.Remove[0] != "2026-0001" {
		t.Fatalf("choices after remove: %+v %v", ch, err)
	}
	_, out = do(t, c, postForm(t, base+"/matters", url.Values{"m": {"2099-0099"}, "on": {"1"}, "csrf": {csrf}}))
	if !strings.Contains(out, "no such matter among yours") {
		t.Fatalf("a matter not the user's:\n%s", out)
	}
	if resp, _ := do(t, c, postForm(t, base+"/matters", url.Values{"m": {"2026-0002"}, "on": {"1"}})); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST /matters without CSRF: %s", resp.Status)
	}
}

func TestStatusPageShowsOpenDocuments(t *testing.T) {
	board := &statusBoard{}
	board.update(func(s *Status) {
		s.State = "idle"
		s.Open = []OpenFile{{Matter: "2026-0001", Path: hostileName + ".docx", User: "bob\u202e", Device: "LAPTOP-7", Since: time.Now(), ReadOnly: true}}
	})
	p, err := newStatusPage("tok", "127.0.0.1:1", t.TempDir(), board, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.overview(rec, httptest.NewRequest(http.MethodGet, "/", nil), "sid")
	body := rec.Body.String()
	if !strings.Contains(body, "Open documents") || !strings.Contains(body, "open by bob") || strings.Contains(body, "<script") || strings.Contains(body, "\u202e") {
		t.Fatalf("overview with an open document:\n%s", body)
	}
}
