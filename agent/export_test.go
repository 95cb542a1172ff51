package agent

// DownloadBudgetWhole reports whether no chunk holds any of the download
// budget (fetch.go): every download that ended gave its share back.
func (a *Agent) DownloadBudgetWhole() bool {
	if !a.downBudget.TryAcquire(downloadBudget) {
		return false
	}
	a.downBudget.Release(downloadBudget)
	return true
}
