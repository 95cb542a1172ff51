// Package client is the Go client of the gateway API, used by the agent and
// the admin CLI. It validates IDs before sending, speaks the wire types of
// gateway/api, and returns gateway refusals as *Error, which carries the
// api.Error body (code, current version, missing chunks).
//
// The client does not retry, except once with a new identity token when the
// gateway refused the token and the token source can refresh
// (TokenRefresher): callers decide (the agent backs off, honouring
// Error.RetryAfter).
package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/internal/fault"
)

// TokenSource returns a current Vault identity token (the raw JWT). It is
// called before every request; implementations cache and refresh.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenFunc adapts a function to TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// StaticToken is a TokenSource for one fixed token (tests, scripts).
type StaticToken string

// Token returns t.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// Options tune a Client.
type Options struct {
	// HTTPClient sends the requests (default: a client without a global
	// timeout; bound calls with their context).
	HTTPClient *http.Client
	// Device is sent in api.HeaderDevice on every request.
	Device string
	// DeviceID is sent in api.HeaderDeviceID on every request: the
	// gateway notes when the device was last seen (device inventory).
	DeviceID string
	// MaxChunkBytes bounds what GetChunk reads into memory (default 64 MiB).
	MaxChunkBytes int64
	// MissingBatch is how many IDs one missing-chunks request carries
	// (default 5000).
	MissingBatch int
}

// Client talks to one gateway.
type Client struct {
	base   *url.URL
	tokens TokenSource
	hc     *http.Client
	opts   Options
}

// New returns a client for the gateway at baseURL (e.g.
// "https://gateway.firm.example:8443").
func New(baseURL string, tokens TokenSource, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fault.Errorf(fault.Invalid, "client: gateway URL %q is not http(s)://host[:port]", baseURL)
	}
	if tokens == nil {
		return nil, fault.Errorf(fault.Invalid, "client: a token source is required")
	}
	if opts.Device != "" && !api.ValidDevice(opts.Device) {
		return nil, fault.Errorf(fault.Invalid, "client: device name must be 1 to %d printable ASCII characters", api.MaxDeviceLen)
	}
	if opts.DeviceID != "" && !api.ValidDeviceID(opts.DeviceID) {
		return nil, fault.Errorf(fault.Invalid, "client: device ID must be 32 lowercase hex characters")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: transport()}
	}
	if opts.MaxChunkBytes <= 0 {
		opts.MaxChunkBytes = 64 << 20
	}
	if opts.MissingBatch <= 0 {
		opts.MissingBatch = 5000
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, tokens: tokens, hc: opts.HTTPClient, opts: opts}, nil
}

// Error is a gateway refusal: a non-2xx answer with an api.Error body.
type Error struct {
	Status     int
	Body       api.Error
	RetryAfter time.Duration // from Retry-After, on 429 and 503
}

func (e *Error) Error() string {
	return fmt.Sprintf("gateway: %d %s: %s", e.Status, e.Body.Code, e.Body.Message)
}

// Fault is the kind of the refusal in the vocabulary kms shares
// (internal/fault), for fault.Of.
func (e *Error) Fault() fault.Kind { return e.Body.Code.Fault() }

// APIError returns the error body (the agent's codeError interface).
func (e *Error) APIError() *api.Error { return &e.Body }

// Code returns the gateway's error code in err, or "" if err is not a
// gateway answer.
func Code(err error) api.Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Body.Code
	}
	return ""
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	return u.String()
}

// TokenRefresher is a TokenSource that can fetch a new token at once
// (kms.Keyring). When the gateway refuses a request's token (401: expired,
// or issued before the caller's access changed), a Client whose token
// source is one asks it for a new token and sends the request again, once.
// Requests whose body cannot be sent twice (PutChunkStream from a plain
// reader) are not retried.
type TokenRefresher interface {
	RefreshToken(ctx context.Context) (string, error)
}

// do sends a request and returns the response if its status is in ok;
// otherwise it decodes the error and closes the body.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, hdr http.Header, body io.Reader, size int64, ok ...int) (*http.Response, error) {
	// A caller may bring its own token in hdr (ConfirmRevocation: the
	// last one it held); otherwise the token source's.
	own := hdr.Get("Authorization") != ""
	var tok string
	if !own {
		var err error
		if tok, err = c.tokens.Token(ctx); err != nil {
			return nil, fmt.Errorf("client: identity token: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if !own {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if c.opts.Device != "" {
		req.Header.Set(api.HeaderDevice, c.opts.Device)
	}
	if c.opts.DeviceID != "" {
		req.Header.Set(api.HeaderDeviceID, c.opts.DeviceID)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, unanswered{err})
	}
	if rf, canRefresh := c.tokens.(TokenRefresher); canRefresh && !own && res.StatusCode == http.StatusUnauthorized && (body == nil || req.GetBody != nil) {
		io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		tok, err := rf.RefreshToken(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: identity token: %w", err)
		}
		again := req.Clone(ctx)
		if req.GetBody != nil && size > 0 {
			if again.Body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("client: %w", err)
			}
		}
		again.Header.Set("Authorization", "Bearer "+tok)
		if res, err = c.hc.Do(again); err != nil {
			return nil, fmt.Errorf("client: %s %s: %w", method, path, unanswered{err})
		}
	}
	for _, s := range ok {
		if res.StatusCode == s {
			return res, nil
		}
	}
	defer res.Body.Close()
	e := &Error{Status: res.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err := json.Unmarshal(b, &e.Body); err != nil || e.Body.Code == "" {
		e.Body = api.Error{Code: api.CodeInternal, Message: fmt.Sprintf("unexpected answer %s", res.Status)}
		if res.StatusCode == http.StatusServiceUnavailable || res.StatusCode == http.StatusBadGateway || res.StatusCode == http.StatusGatewayTimeout {
			e.Body.Code = api.CodeUnavailable
		}
	}
	if ra := res.Header.Get("Retry-After"); ra != "" {
		if n, err := strconv.Atoi(ra); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return nil, e
}

// doJSON sends in (if not nil) as JSON and decodes the answer into out (if
// not nil).
func (c *Client) doJSON(ctx context.Context, method, path string, q url.Values, hdr http.Header, in, out any, ok ...int) (int, http.Header, error) {
	var body io.Reader
	var size int64
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, fmt.Errorf("client: %w", err)
		}
		if hdr == nil {
			hdr = http.Header{}
		}
		hdr.Set("Content-Type", "application/json")
		body, size = bytes.NewReader(b), int64(len(b))
	}
	res, err := c.do(ctx, method, path, q, hdr, body, size, ok...)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(out); err != nil {
			return 0, nil, fmt.Errorf("client: %s %s: decode answer: %w", method, path, err)
		}
	}
	return res.StatusCode, res.Header, nil
}

// ErrInvalid wraps arguments refused before anything is sent (bad matter
// or object IDs). Its kind is fault.Invalid.
var ErrInvalid error = &sentinel{fault.Invalid, "client: invalid argument"}

// sentinel is an error value that names its fault.Kind.
type sentinel struct {
	kind fault.Kind
	msg  string
}

func (e *sentinel) Error() string     { return e.msg }
func (e *sentinel) Fault() fault.Kind { return e.kind }

// unanswered is a request that got no answer: network, DNS, TLS, timeout.
// Its kind is fault.Unavailable, unless the caller canceled it.
type unanswered struct{ err error }

func (e unanswered) Error() string { return e.err.Error() }
func (e unanswered) Unwrap() error { return e.err }
func (e unanswered) Fault() fault.Kind {
	if errors.Is(e.err, context.Canceled) {
		return fault.Other
	}
	return fault.Unavailable
}

func matterPath(matter string) (string, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return "/v1/matters/" + matter, nil
}

func checkID(what, id string) error {
	if _, err := format.ParseID(id); err != nil {
		return fmt.Errorf("%w: %s ID: %w", ErrInvalid, what, err)
	}
	return nil
}

// Matters returns the caller's identity and matters.
func (c *Client) Matters(ctx context.Context) (api.WhoAmI, error) {
	var w api.WhoAmI
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/matters", nil, nil, nil, &w, http.StatusOK)
	return w, err
}

// ConfirmRevocation asks the gateway, with a fresh nonce, whether the
// caller is revoked. It returns the gateway's signed statement when it
// answers revoked (nil if it sent none: the caller must not trust the
// word alone), and ErrNotRevoked when the gateway lets the caller in.
// token, if not "", is sent instead of the token source's: an agent whose
// Vault login is refused asks with the last identity token it held.
func (c *Client) ConfirmRevocation(ctx context.Context, token, nonce string) (*api.Revocation, error) {
	hdr := http.Header{}
	hdr.Set(api.HeaderRevocationNonce, nonce)
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	var w api.WhoAmI
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/matters", nil, hdr, nil, &w, http.StatusOK)
	var ce *Error
	switch {
	case err == nil:
		return nil, ErrNotRevoked
	case errors.As(err, &ce) && ce.Body.Code == api.CodeRevoked:
		return ce.Body.Revocation, nil
	default:
		return nil, err
	}
}

// ErrNotRevoked is ConfirmRevocation's answer when the gateway accepts the
// caller.
var ErrNotRevoked = errors.New("client: the gateway accepts this user: not revoked")

// MissingChunks returns the IDs among ids the gateway does not have, in
// order. Large lists are sent in batches.
func (c *Client) MissingChunks(ctx context.Context, matter string, ids []string) ([]string, error) {
	p, err := matterPath(matter)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := checkID("chunk", id); err != nil {
			return nil, err
		}
	}
	missing := []string{}
	for start := 0; start < len(ids); start += c.opts.MissingBatch {
		end := min(start+c.opts.MissingBatch, len(ids))
		var out api.MissingResponse
		if _, _, err := c.doJSON(ctx, http.MethodPost, p+"/chunks/missing", nil, nil, api.MissingRequest{IDs: ids[start:end]}, &out, http.StatusOK); err != nil {
			return nil, err
		}
		missing = append(missing, out.Missing...)
	}
	return missing, nil
}

// PutChunk uploads a sealed chunk. Uploading a chunk the gateway already
// has is not an error.
func (c *Client) PutChunk(ctx context.Context, matter, id string, sealed []byte) error {
	_, err := c.PutChunkStream(ctx, matter, id, bytes.NewReader(sealed), int64(len(sealed)), sha256.Sum256(sealed))
	return err
}

// SendChunk uploads a sealed chunk like PutChunk and reports whether the
// gateway stored this body (false: it had the chunk already and did not
// read the body).
func (c *Client) SendChunk(ctx context.Context, matter, id string, sealed []byte) (bool, error) {
	put, err := c.PutChunkStream(ctx, matter, id, bytes.NewReader(sealed), int64(len(sealed)), sha256.Sum256(sealed))
	return put.Created, err
}

// PutChunkStream uploads size bytes from r whose SHA-256 is sum. The
// gateway stores them only if both match.
func (c *Client) PutChunkStream(ctx context.Context, matter, id string, r io.Reader, size int64, sum [32]byte) (api.ChunkPut, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.ChunkPut{}, err
	}
	if err := checkID("chunk", id); err != nil {
		return api.ChunkPut{}, err
	}
	return c.putChunk(ctx, p, id, r, size, sum, nil)
}

// ReplaceChunk replaces a stored chunk that failed verification (its
// stored object's SHA-256 is bad) with sealed, a good sealing of the same
// chunk. The gateway refuses it (version_mismatch) if the stored object is
// no longer the one whose SHA-256 is bad: check the chunk again.
func (c *Client) ReplaceChunk(ctx context.Context, matter, id string, sealed []byte, bad [32]byte) (api.ChunkPut, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.ChunkPut{}, err
	}
	if err := checkID("chunk", id); err != nil {
		return api.ChunkPut{}, err
	}
	hdr := http.Header{}
	hdr.Set(api.HeaderReplaces, hex.EncodeToString(bad[:]))
	return c.putChunk(ctx, p, id, bytes.NewReader(sealed), int64(len(sealed)), sha256.Sum256(sealed), hdr)
}

// putChunk sends a chunk PUT with hdr's headers besides its own.
func (c *Client) putChunk(ctx context.Context, p, id string, r io.Reader, size int64, sum [32]byte, hdr http.Header) (api.ChunkPut, error) {
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set(api.HeaderChecksum, hex.EncodeToString(sum[:]))
	hdr.Set("Content-Type", "application/octet-stream")
	res, err := c.do(ctx, http.MethodPut, p+"/chunks/"+id, nil, hdr, r, size, http.StatusCreated, http.StatusOK)
	if err != nil {
		return api.ChunkPut{}, err
	}
	defer res.Body.Close()
	var out api.ChunkPut
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return api.ChunkPut{}, fmt.Errorf("client: put chunk: decode answer: %w", err)
	}
	return out, nil
}

// OpenChunk streams a sealed chunk; the caller closes it. The size is the
// stored size; a short body is reported by the reader as
// io.ErrUnexpectedEOF.
func (c *Client) OpenChunk(ctx context.Context, matter, id string) (io.ReadCloser, int64, error) {
	p, err := matterPath(matter)
	if err != nil {
		return nil, 0, err
	}
	if err := checkID("chunk", id); err != nil {
		return nil, 0, err
	}
	res, err := c.do(ctx, http.MethodGet, p+"/chunks/"+id, nil, nil, nil, 0, http.StatusOK)
	if err != nil {
		return nil, 0, err
	}
	return res.Body, res.ContentLength, nil
}

// GetChunk downloads a sealed chunk into memory (at most
// Options.MaxChunkBytes).
func (c *Client) GetChunk(ctx context.Context, matter, id string) ([]byte, error) {
	body, size, err := c.OpenChunk(ctx, matter, id)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	if size > c.opts.MaxChunkBytes {
		return nil, fmt.Errorf("client: chunk %s is %d bytes, more than %d", id, size, c.opts.MaxChunkBytes)
	}
	if size < 0 {
		b, err := io.ReadAll(io.LimitReader(body, c.opts.MaxChunkBytes+1))
		if err != nil {
			return nil, fmt.Errorf("client: get chunk %s: %w", id, err)
		}
		return b, nil
	}
	// The size is known (net/http ends the body there): one buffer of
	// it, instead of ReadAll's growing copies (a seventh of a first
	// download's CPU went to them).
	b := make([]byte, size)
	if _, err := io.ReadFull(body, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("client: get chunk %s: %w", id, err)
	}
	return b, nil
}

// Commit creates version base+1 of a file (base 0: a new file, sent as
// If-None-Match: *). A concurrent edit is an *Error with code
// api.CodeVersionMismatch and Body.CurrentVersion set.
func (c *Client) Commit(ctx context.Context, matter, fileID string, base int64, req api.CommitRequest) (api.Commit, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.Commit{}, err
	}
	if err := checkID("file", fileID); err != nil {
		return api.Commit{}, err
	}
	if base < 0 {
		return api.Commit{}, fmt.Errorf("%w: negative base version", ErrInvalid)
	}
	hdr := http.Header{}
	if base == 0 {
		hdr.Set("If-None-Match", "*")
	} else {
		hdr.Set("If-Match", api.ETag(base))
	}
	if req.Chunks == nil {
		req.Chunks = []string{}
	}
	var out api.Commit
	_, _, err = c.doJSON(ctx, http.MethodPut, p+"/files/"+fileID, nil, hdr, req, &out, http.StatusCreated)
	return out, err
}

// Batch sends chunks and commits of several files in one request (POST
// /v1/matters/{m}/batch). The answer says, per chunk, whether it was
// stored and, per commit, its version or the error a single commit would
// have got (api.BatchResult); an error means nothing of the batch was
// committed.
func (c *Client) Batch(ctx context.Context, matter string, req api.BatchRequest) (api.BatchResponse, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.BatchResponse{}, err
	}
	for _, ch := range req.Chunks {
		if err := checkID("chunk", ch.ID); err != nil {
			return api.BatchResponse{}, err
		}
	}
	for i, cm := range req.Commits {
		if err := checkID("file", cm.FileID); err != nil {
			return api.BatchResponse{}, err
		}
		if cm.Base < 0 {
			return api.BatchResponse{}, fmt.Errorf("%w: negative base version", ErrInvalid)
		}
		if cm.Chunks == nil {
			req.Commits[i].Chunks = []string{}
		}
	}
	if req.Chunks == nil {
		req.Chunks = []api.BatchChunk{}
	}
	var out api.BatchResponse
	if _, _, err := c.doJSON(ctx, http.MethodPost, p+"/batch", nil, nil, req, &out, http.StatusOK); err != nil {
		return api.BatchResponse{}, err
	}
	if len(out.Chunks) != len(req.Chunks) || len(out.Commits) != len(req.Commits) {
		return api.BatchResponse{}, fmt.Errorf("client: batch: the gateway answered %d chunks and %d commits for %d and %d",
			len(out.Chunks), len(out.Commits), len(req.Chunks), len(req.Commits))
	}
	return out, nil
}

// Delete writes a tombstone on top of version base. tombstone is the
// sealed tombstone manifest for version base+1 (format: Deleted, header
// tombstone flag), so every member can check that a member, not the
// gateway, deleted the file; the gateway refuses a delete without one.
func (c *Client) Delete(ctx context.Context, matter, fileID string, base int64, tombstone []byte) (api.Commit, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.Commit{}, err
	}
	if err := checkID("file", fileID); err != nil {
		return api.Commit{}, err
	}
	if base < 1 {
		return api.Commit{}, fmt.Errorf("%w: delete needs the version it replaces", ErrInvalid)
	}
	if len(tombstone) == 0 {
		return api.Commit{}, fmt.Errorf("%w: delete needs the sealed tombstone manifest", ErrInvalid)
	}
	hdr := http.Header{}
	hdr.Set("If-Match", api.ETag(base))
	var out api.Commit
	_, _, err = c.doJSON(ctx, http.MethodDelete, p+"/files/"+fileID, nil, hdr, api.CommitRequest{Manifest: tombstone, Chunks: []string{}}, &out, http.StatusOK)
	return out, err
}

// File returns a version of a file (0: the head) with its sealed manifest
// (a tombstone's too, except for tombstones recorded before deletes
// carried one).
func (c *Client) File(ctx context.Context, matter, fileID string, version int64) (api.FileVersion, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.FileVersion{}, err
	}
	if err := checkID("file", fileID); err != nil {
		return api.FileVersion{}, err
	}
	q := url.Values{}
	if version > 0 {
		q.Set("version", strconv.FormatInt(version, 10))
	}
	var out api.FileVersion
	_, _, err = c.doJSON(ctx, http.MethodGet, p+"/files/"+fileID, q, nil, nil, &out, http.StatusOK)
	return out, err
}

// Versions returns a file's newest 1000 versions, newest first.
func (c *Client) Versions(ctx context.Context, matter, fileID string) (api.Versions, error) {
	return c.VersionsBefore(ctx, matter, fileID, 0, 1000)
}

// VersionsBefore returns up to limit versions older than before (0: from
// the head), newest first: the paging form of Versions.
func (c *Client) VersionsBefore(ctx context.Context, matter, fileID string, before int64, limit int) (api.Versions, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.Versions{}, err
	}
	if err := checkID("file", fileID); err != nil {
		return api.Versions{}, err
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	var out api.Versions
	_, _, err = c.doJSON(ctx, http.MethodGet, p+"/files/"+fileID+"/versions", q, nil, nil, &out, http.StatusOK)
	return out, err
}

// Changes returns the matter's changes after since; with wait > 0 the
// gateway holds the request until there is one or wait passes. Give ctx
// more time than wait.
func (c *Client) Changes(ctx context.Context, matter string, since int64, wait time.Duration) (api.Changes, error) {
	p, err := matterPath(matter)
	if err != nil {
		return api.Changes{}, err
	}
	q := url.Values{"since": {strconv.FormatInt(since, 10)}}
	if wait > 0 {
		q.Set("wait", wait.Round(time.Millisecond).String())
	}
	var out api.Changes
	_, _, err = c.doJSON(ctx, http.MethodGet, p+"/changes", q, nil, nil, &out, http.StatusOK)
	return out, err
}

// Feed asks, in one request, which of the given matters have news past
// their cursor (matter -> since); with wait > 0 the gateway holds the
// request until one has, or wait passes (POST /v1/feed). Give ctx more
// time than wait.
func (c *Client) Feed(ctx context.Context, cursors map[string]int64, wait time.Duration) (api.Feed, error) {
	req := api.FeedRequest{Matters: make([]api.FeedCursor, 0, len(cursors))}
	for _, m := range slices.Sorted(maps.Keys(cursors)) {
		if _, err := matterPath(m); err != nil {
			return api.Feed{}, err
		}
		req.Matters = append(req.Matters, api.FeedCursor{Matter: m, Since: cursors[m]})
	}
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait": {wait.Round(time.Millisecond).String()}}
	}
	var out api.Feed
	_, _, err := c.doJSON(ctx, http.MethodPost, "/v1/feed", q, nil, req, &out, http.StatusOK)
	return out, err
}

// Deny puts an entity on the deny list (admin). Denying an entity twice
// is not an error.
func (c *Client) Deny(ctx context.Context, entityID, name, reason string) error {
	_, _, err := c.doJSON(ctx, http.MethodPost, "/v1/admin/deny", nil, nil,
		api.DenyRequest{EntityID: entityID, Name: name, Reason: reason}, nil, http.StatusCreated, http.StatusOK)
	return err
}

// Undeny removes an entity from the deny list (admin); an entity that was
// not on it is an *Error with code api.CodeNotFound.
func (c *Client) Undeny(ctx context.Context, entityID string) error {
	if entityID == "" || strings.ContainsAny(entityID, "/?#%") {
		return fmt.Errorf("%w: entity ID", ErrInvalid)
	}
	res, err := c.do(ctx, http.MethodDelete, "/v1/admin/deny/"+entityID, nil, nil, nil, 0, http.StatusNoContent)
	if err != nil {
		return err
	}
	res.Body.Close()
	return nil
}

// DenyList returns the deny list (admin).
func (c *Client) DenyList(ctx context.Context) ([]api.DenyEntry, error) {
	out, err := c.Denials(ctx)
	return out.Entries, err
}

// Denials returns the deny list and the reissue stamps (admin).
func (c *Client) Denials(ctx context.Context) (api.DenyList, error) {
	var out api.DenyList
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/deny", nil, nil, nil, &out, http.StatusOK)
	return out, err
}

// Reissue makes the gateway refuse the entity's identity tokens issued
// until now (admin): its devices must fetch new ones, which carry its
// current groups. Setting it again moves the stamp to now.
func (c *Client) Reissue(ctx context.Context, entityID, reason string) (api.Reissue, error) {
	if entityID == "" || strings.ContainsAny(entityID, "/?#%") {
		return api.Reissue{}, fmt.Errorf("%w: entity ID", ErrInvalid)
	}
	var out api.Reissue
	_, _, err := c.doJSON(ctx, http.MethodPost, "/v1/admin/deny/"+entityID+"/reissue", nil, nil, api.ReissueRequest{Reason: reason}, &out, http.StatusOK)
	return out, err
}

// Hold returns a matter's legal hold (admin).
func (c *Client) Hold(ctx context.Context, matter string) (api.Hold, error) {
	return c.hold(ctx, http.MethodGet, matter, nil)
}

// SetHold puts a matter under legal hold (admin).
func (c *Client) SetHold(ctx context.Context, matter string, req api.HoldRequest) (api.Hold, error) {
	return c.hold(ctx, http.MethodPut, matter, req)
}

// ReleaseHold lifts a matter's legal hold (admin); req.Reason is
// required.
func (c *Client) ReleaseHold(ctx context.Context, matter string, req api.HoldRequest) (api.Hold, error) {
	return c.hold(ctx, http.MethodDelete, matter, req)
}

// Holds returns every matter on legal hold (admin).
func (c *Client) Holds(ctx context.Context) ([]api.Hold, error) {
	var out api.Holds
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/holds", nil, nil, nil, &out, http.StatusOK)
	return out.Holds, err
}

// HoldHistory returns every hold on and off of a matter, oldest first
// (admin).
func (c *Client) HoldHistory(ctx context.Context, matter string) ([]api.Hold, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.HoldHistory
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/matters/"+matter+"/hold/history", nil, nil, nil, &out, http.StatusOK)
	return out.History, err
}

func (c *Client) hold(ctx context.Context, method, matter string, in any) (api.Hold, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.Hold{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.Hold
	_, _, err := c.doJSON(ctx, method, "/v1/admin/matters/"+matter+"/hold", nil, nil, in, &out, http.StatusOK)
	return out, err
}

// Epoch returns a matter's current epoch at the gateway (admin); 0 if it
// has seen none.
func (c *Client) Epoch(ctx context.Context, matter string) (api.Epoch, error) {
	return c.epoch(ctx, http.MethodGet, matter, nil)
}

// SetEpoch raises a matter's epoch at the gateway (admin): uploads sealed
// under older epochs are refused with api.CodeStaleEpoch from then on.
// Setting the current epoch again is not an error; a lower one is an
// *Error with code api.CodeStaleEpoch and Body.CurrentEpoch set.
func (c *Client) SetEpoch(ctx context.Context, matter string, epoch uint32) (api.Epoch, error) {
	if epoch == 0 {
		return api.Epoch{}, fmt.Errorf("%w: epochs start at 1", ErrInvalid)
	}
	return c.epoch(ctx, http.MethodPut, matter, api.EpochRequest{Epoch: epoch})
}

func (c *Client) epoch(ctx context.Context, method, matter string, in any) (api.Epoch, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.Epoch{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.Epoch
	_, _, err := c.doJSON(ctx, method, "/v1/admin/matters/"+matter+"/epoch", nil, nil, in, &out, http.StatusOK)
	return out, err
}

// Usage counts what a matter stores (admin).
func (c *Client) Usage(ctx context.Context, matter string) (api.Usage, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return api.Usage{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out api.Usage
	_, _, err := c.doJSON(ctx, http.MethodGet, "/v1/admin/matters/"+matter+"/usage", nil, nil, nil, &out, http.StatusOK)
	return out, err
}

// AuditQuery selects records for AuditExport; zero fields do not filter.
type AuditQuery struct {
	Since, Until time.Time
	Matter       string
	User         string
	Entity       string
	Actions      []string // any of these actions (at most 16)
	Result       string   // audit.ResultOK, ResultDenied, …
	AfterSeq     int64
	Limit        int
}

// ErrTruncated is returned when an export ends before the gateway's end
// marker: the list is incomplete. Its kind is fault.Unavailable.
var ErrTruncated error = &sentinel{fault.Unavailable, "client: audit export truncated"}

// AuditExport streams matching audit records in sequence order to fn
// (admin).
func (c *Client) AuditExport(ctx context.Context, aq AuditQuery, fn func(*audit.Record) error) error {
	q := url.Values{}
	if !aq.Since.IsZero() {
		q.Set("since", aq.Since.UTC().Format(time.RFC3339Nano))
	}
	if !aq.Until.IsZero() {
		q.Set("until", aq.Until.UTC().Format(time.RFC3339Nano))
	}
	for k, v := range map[string]string{"matter": aq.Matter, "user": aq.User, "entity": aq.Entity, "action": strings.Join(aq.Actions, ","), "result": aq.Result} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if aq.AfterSeq > 0 {
		q.Set("after_seq", strconv.FormatInt(aq.AfterSeq, 10))
	}
	if aq.Limit > 0 {
		q.Set("limit", strconv.Itoa(aq.Limit))
	}
	res, err := c.do(ctx, http.MethodGet, "/v1/admin/audit", q, nil, nil, 0, http.StatusOK)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.Equal(bytes.TrimSpace(line), []byte(`{"end":true}`)) {
			return nil
		}
		var r audit.Record
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("client: audit export: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return ErrTruncated
}

// VerifyOptions are AuditVerify's checks beyond the chain itself.
type VerifyOptions struct {
	// MaxCheckpointAge: records not covered by a checkpoint may span at
	// most this long (0: the gateway's default, 5 checkpoint intervals).
	MaxCheckpointAge time.Duration
	// Expect are checkpoints copied from the gateway's log lines (the
	// SIEM): each must be in the log and match its record.
	Expect []audit.Anchor
}

// AuditVerify asks the gateway to verify the whole chain against its
// checkpoint keys (admin).
func (c *Client) AuditVerify(ctx context.Context, opts VerifyOptions) (audit.Report, error) {
	q := url.Values{}
	if opts.MaxCheckpointAge > 0 {
		q.Set("max_checkpoint_age", opts.MaxCheckpointAge.String())
	}
	if len(opts.Expect) > 0 {
		s := make([]string, len(opts.Expect))
		for i, a := range opts.Expect {
			s[i] = a.String()
		}
		q.Set("expect", strings.Join(s, ","))
	}
	var out audit.Report
	_, _, err := c.doJSON(ctx, http.MethodPost, "/v1/admin/audit/verify", q, nil, nil, &out, http.StatusOK)
	return out, err
}

// idleConnsPerHost is how many idle connections to the gateway a client
// keeps. net/http keeps 2, and an agent has many more requests in flight
// (chunks and files fetched ahead, two batches, two files uploading):
// every request beyond two opened a new connection, a TLS handshake in
// production, and left one in TIME_WAIT.
const idleConnsPerHost = 64

// transport is net/http's default transport with idleConnsPerHost.
func transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = idleConnsPerHost
	return tr
}

// HTTPClient returns an HTTP client for the gateway that trusts the
// system's CAs, or only the PEM certificates in caFile when it is set (a
// firm's private CA), with TLS 1.2 at least.
func HTTPClient(caFile string) (*http.Client, error) {
	tr := transport()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fault.Errorf(fault.Invalid, "client: gateway CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fault.Errorf(fault.Invalid, "client: gateway CA %s: no PEM certificates", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}
