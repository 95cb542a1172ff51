package agent

import (
	"context"
	"fmt"
	"net/http"
	"slices"
)

// Selective sync on the status page: the user's matters, which are on
// this computer, and a button to add or remove one (selection.go does the
// work; the running agent acts on the choice within seconds, and a removed
// matter's folder goes only once everything in it is uploaded).

// pageMatters is what the matters page needs; *Agent has it. Optional: a
// status served without an agent has none.
type pageMatters interface {
	MatterList(ctx context.Context) ([]MatterInfo, error)
}

func (p *statusPage) matters(w http.ResponseWriter, r *http.Request, sid string) {
	data := map[string]any{}
	if pm, ok := p.acts.(pageMatters); ok {
		list, err := pm.MatterList(r.Context())
		if err != nil {
			data["Error"] = explainOr(err)
		}
		data["List"] = list
	}
	p.render(w, "matters.html", sid, data)
}

func (p *statusPage) chooseMatter(w http.ResponseWriter, r *http.Request, sid string) {
	matter, on := r.PostForm.Get("m"), r.PostForm.Get("on") == "1"
	pm, ok := p.acts.(pageMatters)
	if !ok {
		p.result(w, sid, "Matters", "", fmt.Errorf("this agent cannot change which matters are here"), p.prefix+"matters")
		return
	}
	list, err := pm.MatterList(r.Context())
	if err == nil && !slices.ContainsFunc(list, func(m MatterInfo) bool { return m.ID == matter }) {
		err = fmt.Errorf("no such matter among yours: %s", SafeText(matter))
	}
	if err == nil {
		err = ChooseMatter(p.dataDir, matter, on)
	}
	msg := fmt.Sprintf("Matter %s will be added to this computer within seconds; its files then download.", SafeText(matter))
	if !on {
		msg = fmt.Sprintf("Matter %s will be removed from this computer: its folder goes once every change in it is uploaded (the status says so if something holds it).", SafeText(matter))
	}
	p.result(w, sid, "Matters", msg, err, p.prefix+"matters")
}
