package gateway

// The device inventory (docs/API.md, "Device inventory"): agents report
// their device (PUT /v1/device) at start, when something in it changed and
// after a wipe; every request carrying the device ID header notes when the
// device was last seen, written at most every deviceSeenEvery per device
// and replica, so an idle agent's feed polls cost no write. IT lists them
// (GET /v1/admin/devices).

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// DeviceStore keeps the device inventory (sqlcore documents each).
type DeviceStore interface {
	PutDevice(ctx context.Context, d store.Device, rec *audit.Record) (store.Device, error)
	DeviceSeen(ctx context.Context, entity, id string, at time.Time, revoked bool) (bool, error)
	DeviceIDs(ctx context.Context, entity string) ([]string, error)
	Devices(ctx context.Context, user string) ([]store.Device, error)
}

// deviceSeenEvery is how often a device's last sighting is written (per
// replica): "not seen for 14 days" needs no finer grain. A sighting the
// deny list refused is written at once (the first of each period):
// "a revoked user's device still seen" must not wait.
const deviceSeenEvery = 5 * time.Minute

// maxSightings bounds the sightings (and the entities' known devices) a
// replica remembers; beyond, it forgets them all (costing one write or
// read per device again). Only known devices of authenticated callers
// past the rate limit get in, so a flood of invented IDs cannot fill it.
const maxSightings = 100_000

// sightings remembers when each device's sighting was last written, and
// each entity's known devices (read through from the store at most every
// deviceSeenEvery: a device reported to another replica is learnt then).
type sightings struct {
	mu    sync.Mutex // guards last and known
	last  map[string]sighting
	known map[string]knownDevices // by entity
}

type sighting struct {
	at      time.Time
	revoked bool
}

type knownDevices struct {
	ids []string
	at  time.Time // when read from the store
}

func newSightings() *sightings {
	return &sightings{last: map[string]sighting{}, known: map[string]knownDevices{}}
}

// due reports whether a sighting of key at now must be written, and if so
// takes it as written.
func (s *sightings) due(key string, now time.Time, revoked bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.last[key]; ok && l.revoked == revoked && now.Sub(l.at) < deviceSeenEvery {
		return false
	}
	if len(s.last) >= maxSightings {
		clear(s.last)
	}
	s.last[key] = sighting{at: now, revoked: revoked}
	return true
}

// forget drops key, so its next sighting is written (this one failed).
func (s *sightings) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.last, key)
}

// knownOf returns entity's known devices if read within deviceSeenEvery.
func (s *sightings) knownOf(entity string, now time.Time) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.known[entity]
	if !ok || now.Sub(k.at) >= deviceSeenEvery {
		return nil, false
	}
	return k.ids, true
}

// setKnown keeps entity's devices as read from the store at at.
func (s *sightings) setKnown(entity string, ids []string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.known[entity]; !ok && len(s.known) >= maxSightings {
		clear(s.known)
	}
	s.known[entity] = knownDevices{ids: ids, at: at}
}

// learn adds id to entity's known devices (it just reported itself).
func (s *sightings) learn(entity, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.known[entity]; ok && !slices.Contains(k.ids, id) {
		k.ids = append(slices.Clip(k.ids), id)
		s.known[entity] = k
	}
}

func (s *Server) deviceRoutes() {
	s.handle("/v1/device", map[string]method{
		http.MethodPut: {"device.report", permAny, s.putDevice},
	})
	s.handle("/v1/admin/devices", map[string]method{
		http.MethodGet: {"admin.device.list", permAdmin, s.listDevices},
	})
}

// deviceID returns the request's device ID header ("" if none); a
// malformed one is refused.
func deviceID(r *http.Request) (string, error) {
	v, ok := r.Header[api.HeaderDeviceID]
	if !ok {
		return "", nil
	}
	if len(v) != 1 || !api.ValidDeviceID(v[0]) {
		return "", E("auth", KindInvalid, "%s must be 32 lowercase hex characters", api.HeaderDeviceID)
	}
	return v[0], nil
}

// noteDevice records, throttled, that the caller's device made a
// request, once the request is past the rate limit (or refused by the
// deny list, revoked: a revoked user's device still trying is what IT
// wants to see). Only a device the entity reported is written: the
// header alone never costs a write, and an invented ID costs at most one
// read per entity and deviceSeenEvery. Only a malformed header fails; a
// sighting that cannot be written is logged and tried again at the next
// request.
func (s *Server) noteDevice(r *http.Request, rq *request, revoked bool) error {
	id, err := deviceID(r)
	if err != nil || id == "" {
		return err
	}
	now := time.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	ids, ok := s.sightings.knownOf(rq.ident.Entity, now)
	if !ok {
		if ids, err = s.devices.DeviceIDs(ctx, rq.ident.Entity); err != nil {
			s.log.Warn("device sighting not recorded", "request_id", rq.id, "err", err)
			return nil
		}
		s.sightings.setKnown(rq.ident.Entity, ids, now)
	}
	key := rq.ident.Entity + "/" + id
	if !slices.Contains(ids, id) || !s.sightings.due(key, now, revoked) {
		return nil
	}
	if _, err := s.devices.DeviceSeen(ctx, rq.ident.Entity, id, now, revoked); err != nil {
		s.sightings.forget(key)
		s.log.Warn("device sighting not recorded", "request_id", rq.id, "err", err)
	}
	return nil
}

// putDevice records the caller's device report.
func (s *Server) putDevice(w http.ResponseWriter, r *http.Request, rq *request) error {
	return s.recordDevice(w, r, rq, http.StatusOK, audit.ResultOK)
}

// revokedReportEvery is how often a revoked caller's device report is
// recorded (per entity and replica): the deny list comes before the
// per-user rate limit, so without it a revoked token could buy a device
// write and an audit append per request. A wipe is reported once; an
// agent whose report was refused 429 tries again later.
const revokedReportEvery = time.Minute

// putDeviceRevoked records the device report of a caller the deny list
// refused with denied (a device telling IT it wiped its folders), at most
// one per revokedReportEvery per entity (429 beyond) and within the
// in-flight bounds of any request. It returns the error to answer:
// denied, whether or not the report was recorded (with the refusal's
// audit record), or the limit's.
func (s *Server) putDeviceRevoked(r *http.Request, rq *request, denied error) error {
	if ok, wait := s.revokedReports.allow(rq.ident.Entity, time.Now()); !ok {
		s.metrics.denials.WithLabelValues("rate_limited").Inc()
		return &Error{Op: "device.report", Kind: KindRateLimited, Msg: "too many device reports from a revoked user", RetryAfter: wait}
	}
	leave, err := s.admitRequest(r, rq, "device.report")
	if err != nil {
		return err
	}
	defer leave()
	release, err := s.admitBody(r, rq, "device.report")
	if err != nil {
		return err
	}
	defer release()
	if err := s.recordDevice(nil, r, rq, http.StatusForbidden, audit.ResultDenied); err != nil {
		s.log.Info("device report of a revoked user not recorded", "request_id", rq.id, "err", err)
	}
	return denied
}

// recordDevice decodes, checks and stores a device report, with rq's
// audit record (status, result) in the same transaction; w nil: answer
// nothing.
func (s *Server) recordDevice(w http.ResponseWriter, r *http.Request, rq *request, status int, result string) error {
	const op = "device.report"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var rep api.DeviceReport
	if err := decodeJSON(w, r, op, api.MaxDeviceReportBytes, &rep); err != nil {
		return err
	}
	if err := rep.Validate(); err != nil {
		return E(op, KindInvalid, "%s", err.Error())
	}
	if id, _ := deviceID(r); id != "" && id != rep.DeviceID {
		return E(op, KindInvalid, "device_id is not the %s header's", api.HeaderDeviceID)
	}
	// A refusal's record keeps its marker first (deny:revoked, which the
	// revoked-device alert rule matches as a prefix) and adds the device
	// and its wipe, so the tamper-evident chain holds the wipe's report.
	obj := rq.rec.Object
	what := "device=" + rep.DeviceID
	if !rep.Wiped.IsZero() {
		what += " wiped=" + rep.Wiped.UTC().Format(time.RFC3339)
	}
	if result == audit.ResultOK {
		rq.rec.Object = what
	} else {
		rq.rec.Object = obj + " " + what
	}
	rq.rec.Status, rq.rec.Result = status, result
	now := time.Now()
	d, err := s.devices.PutDevice(r.Context(), store.Device{
		Entity: rq.ident.Entity, ID: rep.DeviceID, User: rq.ident.User, Host: rep.Host, OS: rep.OS, Version: rep.AgentVersion,
		DiskState: rep.DiskEncryption.State, DiskMethod: rep.DiskEncryption.Method, DiskDetail: rep.DiskEncryption.Detail,
		WipeOnRevoke: rep.WipeOnRevoke, Wiped: rep.Wiped, LastSync: rep.LastSync, Reported: now,
	}, &rq.rec)
	if err != nil {
		rq.rec.Status, rq.rec.Result, rq.rec.Object = 0, "", obj
		return storeErr(op, err)
	}
	s.mutated(rq)
	s.sightings.learn(d.Entity, d.ID)
	if w != nil {
		writeJSON(w, status, deviceBody(d))
	}
	return nil
}

// listDevices answers the inventory, optionally of one user.
func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.device.list"
	q, err := queryParams(r, op, "user")
	if err != nil {
		return err
	}
	user := q.Get("user")
	if q.Has("user") && (user == "" || !validText(user, 256)) {
		return E(op, KindInvalid, "user must be a user name (1 to 256 characters)")
	}
	ds, err := s.devices.Devices(r.Context(), user)
	if err != nil {
		return storeErr(op, err)
	}
	out := api.Devices{Devices: make([]api.Device, 0, min(len(ds), api.MaxDeviceList))}
	if len(ds) > api.MaxDeviceList {
		ds, out.Truncated = ds[:api.MaxDeviceList], true
	}
	for _, d := range ds {
		out.Devices = append(out.Devices, deviceBody(d))
	}
	if user != "" {
		rq.rec.Object = "user=" + clip(user, 80)
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, out)
}

func deviceBody(d store.Device) api.Device {
	return api.Device{
		DeviceReport: api.DeviceReport{DeviceID: d.ID, Host: d.Host, OS: d.OS, AgentVersion: d.Version,
			DiskEncryption: api.DiskEncryption{State: d.DiskState, Method: d.DiskMethod, Detail: d.DiskDetail},
			WipeOnRevoke:   d.WipeOnRevoke, Wiped: d.Wiped, LastSync: d.LastSync},
		Entity: d.Entity, User: d.User, FirstSeen: d.FirstSeen, Reported: d.Reported, LastSeen: d.LastSeen,
		Revoked: d.Revoked, RevokedSeen: d.RevokedSeen,
	}
}
