package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCollapserBounds: whatever the number of sources, a flush makes at
// most maxSummaryRecords records, the sources beyond maxTrackedSources are
// counted together, and every refusal is in exactly one record.
func TestCollapserBounds(t *testing.T) {
	c := newCollapser(3)
	now := time.Unix(1_000_000, 0)
	own, total := 0, 0
	for i := range maxTrackedSources + 500 {
		key := fmt.Sprintf("2001:db8:%x:%x::/64", i>>16, i&0xffff)
		for j := range 1 + i%3 {
			if c.record(key, 401, "m-"+fmt.Sprint(j), now) {
				own++
			}
			total++
		}
	}
	if own != 3 {
		t.Fatalf("%d refusals with a record of their own at one instant, want the budget's 3", own)
	}
	sums := c.take()
	if len(sums) != maxSummaryRecords {
		t.Fatalf("%d summaries, want %d", len(sums), maxSummaryRecords)
	}
	counted := 0
	for _, sm := range sums[:len(sums)-1] {
		if sm.key == otherSources || sm.n != 3 {
			t.Fatalf("summary %s of %d refusals before the rest: want the largest sources first", sm.key, sm.n)
		}
		counted += sm.n
	}
	rest := sums[len(sums)-1]
	counted += rest.n
	// Source 0's one refusal had its record: the other tracked sources,
	// less the 99 summarized apart, and the untracked ones ("+").
	if rest.key != otherSources || !strings.HasSuffix(rest.object(), fmt.Sprintf(" sources=%d+", maxTrackedSources-1-(maxSummaryRecords-1))) {
		t.Fatalf("last summary %s: %s", rest.key, rest.object())
	}
	if counted+own != total {
		t.Fatalf("%d counted + %d recorded, want %d", counted, own, total)
	}
	if got := sums[0].object(); got != "suppressed=3 status=401:3 matters=m-0,m-1,m-2" {
		t.Fatalf("object %q", got)
	}
	if len(c.take()) != 0 {
		t.Fatal("a second take found counts")
	}
	// A source gets a record of its own at most once a second.
	c = newCollapser(100)
	if !c.record("192.0.2.1", 401, "", now) || c.record("192.0.2.1", 401, "", now.Add(500*time.Millisecond)) || !c.record("192.0.2.1", 401, "", now.Add(time.Second)) {
		t.Fatal("one record of its own per source per second")
	}
}
