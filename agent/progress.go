package agent

import "time"

// pullProgressMin is the backlog of feed changes from which a pull shows
// its progress (status, the status page's bar and ETA): a first sync, or
// a laptop back after days away; a colleague's few edits show none.
const pullProgressMin = 50

// pullProgress shows a pull of the feed from cursor from up to head.
func (a *Agent) pullProgress(matter string, from uint64, head int64) {
	total := head - int64(from)
	if total < pullProgressMin {
		return
	}
	a.board.matter(matter, func(m *MatterStatus) {
		if m.ProgressOf != "changes" || m.pullFrom != from {
			m.ProgressOf, m.pullFrom, m.FilesDone, m.ProgressSince = "changes", from, 0, time.Now()
		}
		m.FilesTotal = int(total)
	})
}

// pulled records that the pull applied the feed up to seq.
func (a *Agent) pulled(matter string, seq int64) {
	a.board.matter(matter, func(m *MatterStatus) {
		if m.ProgressOf == "changes" && m.FilesTotal > 0 {
			m.FilesDone = min(int(seq-int64(m.pullFrom)), m.FilesTotal)
		}
	})
}
