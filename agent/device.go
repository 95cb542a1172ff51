package agent

// The device inventory (docs/API.md, "Device inventory"): the agent tells
// the gateway about its device at start, when the report changed (its
// last successful sync at most every deviceReportEvery) and after a
// wipe. The device ID is random, made once per install and kept in the
// data dir: never a hardware serial. Every request also carries it
// (client.Options.DeviceID), so the gateway notes when the device was
// last seen without a report.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
)

// deviceIDFile (in the data dir) holds the device ID; wipedFile the time
// of the last wipe on revocation (RFC 3339), so a later start reports it.
const (
	deviceIDFile = "device-id"
	wipedFile    = "wiped"
)

// deviceReportEvery is how often, at most, a moved last sync is
// reported; deviceCheckEvery how often the report is looked at.
const (
	deviceReportEvery = 5 * time.Minute
	deviceCheckEvery  = time.Minute
)

// deviceReporter is implemented by *client.Client.
type deviceReporter interface {
	ReportDevice(ctx context.Context, rep api.DeviceReport, token string) (api.Device, error)
}

// LoadDeviceID returns this install's device ID from dataDir, making and
// keeping a new random one on first use.
func LoadDeviceID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, deviceIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); api.ValidDeviceID(id) {
			return id, nil
		}
		// A damaged file: a new ID is a new device in the inventory,
		// which is better than none.
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("device ID: %w", err)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(raw[:])
	if err := WriteFileAtomic(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("device ID: %w", err)
	}
	return id, nil
}

// agentVersion is the version the command was stamped with, else the
// module version the binary was built from (a tag, or a pseudo-version
// with the commit), else "dev".
func agentVersion(stamped string) string {
	if stamped != "" && stamped != "dev" && api.ValidDevice(stamped) {
		return clipText(stamped, api.MaxDeviceVersion)
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "dev"
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev+" + s.Value[:12]
			}
		}
	}
	return clipText(v, api.MaxDeviceVersion)
}

// osName is GOOS/GOARCH and, on Linux, the distribution's name.
func osName() string {
	s := runtime.GOOS + "/" + runtime.GOARCH
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				s += " " + strings.Trim(v, `"'`)
			}
		}
	}
	return clipText(strings.ToValidUTF8(s, "?"), api.MaxDeviceOS)
}

// deviceReport is the report as of now.
func (a *Agent) deviceReport() api.DeviceReport {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = a.cfg.DeviceName
	}
	st := a.board.snapshot()
	// The last time every matter had synced: a matter that never did
	// (zero) or keeps failing holds it back.
	var last time.Time
	first := true
	for _, m := range st.Matters {
		if m.State != "removed" && (first || m.LastSync.Before(last)) {
			last, first = m.LastSync, false
		}
	}
	rep := api.DeviceReport{DeviceID: a.deviceID, Host: clipText(strings.ToValidUTF8(host, "?"), api.MaxDeviceHost), OS: osName(), AgentVersion: agentVersion(a.cfg.AgentVersion),
		DiskEncryption: a.disk, WipeOnRevoke: a.cfg.WipeOnRevoke, LastSync: last.UTC().Truncate(time.Microsecond)}
	if b, err := os.ReadFile(filepath.Join(a.cfg.DataDir, wipedFile)); err == nil {
		rep.Wiped, _ = time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	}
	if last.IsZero() {
		rep.LastSync = time.Time{}
	}
	return rep
}

// ReportDevice sends the device report now (token: see
// client.ReportDevice). Without a device ID or a gateway that takes
// reports it does nothing.
func (a *Agent) ReportDevice(ctx context.Context, token string) error {
	if a.devices == nil || a.deviceID == "" {
		return nil
	}
	_, err := a.devices.ReportDevice(ctx, a.deviceReport(), token)
	return err
}

// reportDevice reports at once, then whenever the report changed: at
// once for anything but the last sync, which moves with every pass and is
// reported at most every deviceReportEvery. A failed report is tried
// again at the next check.
func (a *Agent) reportDevice(ctx context.Context) {
	if a.devices == nil || a.deviceID == "" {
		return
	}
	var sent api.DeviceReport
	var sentAt time.Time
	tick := time.NewTicker(deviceCheckEvery)
	defer tick.Stop()
	for {
		rep := a.deviceReport()
		other := rep
		other.LastSync = sent.LastSync
		if sentAt.IsZero() || other != sent || (!rep.LastSync.Equal(sent.LastSync) && time.Since(sentAt) >= deviceReportEvery) {
			if _, err := a.devices.ReportDevice(ctx, rep, ""); err != nil {
				if ctx.Err() == nil {
					a.log.Debug("device report not sent; trying again", "err", err)
				}
			} else {
				sent, sentAt = rep, time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reportWipe keeps the time of a wipe on revocation and tells the
// gateway with the identity token held when sync stopped (the gateway
// records it though it refuses the user).
func (a *Agent) reportWipe(ctx context.Context) {
	now := time.Now().UTC().Truncate(time.Second)
	if err := WriteFileAtomic(filepath.Join(a.cfg.DataDir, wipedFile), []byte(now.Format(time.RFC3339)+"\n"), 0o600); err != nil {
		a.log.Warn("wipe time not kept", "err", err)
	}
	a.mu.Lock()
	tok := a.lastToken
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := a.ReportDevice(ctx, tok); err != nil && remoteCode(err) != api.CodeRevoked {
		a.log.Warn("wipe not reported to the gateway", "err", err)
	}
}
