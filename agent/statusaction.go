package agent

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A restore run from the CLI while the agent runs is done by the agent:
// the one process that writes the matter folders, one action at a time per
// matter with its sync passes. A second process restoring beside it could
// install a file while the agent's pass scans or pulls the same folder.
// The request and the answer are proven with the status token exactly like
// GET /status (see serveStatus).

// ErrAgentNotRunning: no agent of this user is running (the CLI then does
// the work itself).
var ErrAgentNotRunning = errors.New("agent not running")

// cliActions are what the running agent does for the CLI.
type cliActions interface {
	Restore(ctx context.Context, path string, version int64) (int64, error)
	RestoreFolderAtPath(ctx context.Context, dir string, at time.Time) (FolderRestore, error)
	Share(ctx context.Context, path string, o ShareOptions) (ShareLink, error)
}

type actionRequest struct {
	Op      string        `json:"op"` // "restore" | "restore-folder" | "share"
	Path    string        `json:"path"`
	Version int64         `json:"version,omitempty"`
	At      time.Time     `json:"at,omitzero"`
	Share   *ShareOptions `json:"share,omitempty"`
}

type actionResponse struct {
	Version int64          `json:"version,omitempty"`
	Folder  *FolderRestore `json:"folder,omitempty"`
	// Share is the link made, its key included: the answer goes over
	// loopback to the CLI of the same user, proven like the request.
	Share *ShareLink `json:"share,omitempty"`
	Error string     `json:"error,omitempty"`
}

// registerActions serves POST /action for acts (nothing if acts is nil).
func registerActions(mux *http.ServeMux, token, self string, acts cliActions) {
	if acts == nil {
		// Waiting for a login: the CLI does the work itself.
		mux.HandleFunc("POST /action", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "this agent takes no actions now", http.StatusNotFound)
		})
		return
	}
	mux.HandleFunc("POST /action", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxForm))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		nonce := r.Header.Get(statusNonceHeader)
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Mattersync-Proof ")
		want := statusProof([]byte(token), "status action", self, nonce, string(body))
		if len(nonce) != 64 || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			http.Error(w, "missing or wrong status proof", http.StatusUnauthorized)
			return
		}
		var req actionRequest
		var resp actionResponse
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch req.Op {
		case "restore":
			resp.Version, err = acts.Restore(r.Context(), req.Path, req.Version)
		case "restore-folder":
			var out FolderRestore
			out, err = acts.RestoreFolderAtPath(r.Context(), req.Path, req.At)
			resp.Folder = &out
		case "share":
			if req.Share == nil {
				err = errors.New("share: no options")
				break
			}
			var link ShareLink
			if link, err = acts.Share(r.Context(), req.Path, *req.Share); err == nil {
				resp.Share = &link
			}
		default:
			err = fmt.Errorf("unknown action %q", req.Op)
		}
		if err != nil {
			resp.Error = err.Error()
		}
		out, _ := json.Marshal(resp)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(statusProofHeader, statusProof([]byte(token), "status response", nonce, string(out)))
		_, _ = w.Write(out)
	})
}

// askAgent sends an action to the running agent of dataDir and checks
// that the answer is that agent's.
func askAgent(ctx context.Context, dataDir string, req actionRequest) (actionResponse, error) {
	var resp actionResponse
	tok, err := os.ReadFile(filepath.Join(dataDir, statusTokenFile))
	if errors.Is(err, fs.ErrNotExist) {
		return resp, ErrAgentNotRunning
	}
	if err != nil {
		return resp, err
	}
	b, err := os.ReadFile(filepath.Join(dataDir, statusAddrFile))
	if errors.Is(err, fs.ErrNotExist) {
		return resp, ErrAgentNotRunning
	}
	if err != nil {
		return resp, err
	}
	token, addr := []byte(strings.TrimSpace(string(tok))), strings.TrimSpace(string(b))
	// The status handshake first: it proves the program at addr is this
	// user's agent before a path is sent to it.
	if _, err := ReadStatus(ctx, dataDir); err != nil {
		return resp, fmt.Errorf("%w: %w", ErrAgentNotRunning, err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return resp, err
	}
	nonce := randomToken()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/action", bytes.NewReader(body))
	if err != nil {
		return resp, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(statusNonceHeader, nonce)
	hr.Header.Set("Authorization", "Mattersync-Proof "+statusProof(token, "status action", addr, nonce, string(body)))
	hc := &http.Client{Transport: &http.Transport{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer hc.CloseIdleConnections()
	res, err := hc.Do(hr)
	if err != nil {
		return resp, fmt.Errorf("agent at %s: %w", addr, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed {
		// An agent waiting for a login serves status only.
		return resp, fmt.Errorf("%w: the agent at %s does not take actions now", ErrAgentNotRunning, addr)
	}
	if res.StatusCode != http.StatusOK {
		return resp, fmt.Errorf("agent at %s: %s", addr, res.Status)
	}
	out, err := io.ReadAll(io.LimitReader(res.Body, maxStatusBytes))
	if err != nil {
		return resp, err
	}
	want := statusProof(token, "status response", nonce, string(out))
	if subtle.ConstantTimeCompare([]byte(res.Header.Get(statusProofHeader)), []byte(want)) != 1 {
		return resp, fmt.Errorf("the program answering at %s is not this user's agent: its answer is ignored", addr)
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return resp, err
	}
	return resp, nil
}

// RestoreThroughAgent asks the running agent to restore version of the
// file at path (see Restore); ErrAgentNotRunning if none runs.
func RestoreThroughAgent(ctx context.Context, dataDir, path string, version int64) (int64, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	resp, err := askAgent(ctx, dataDir, actionRequest{Op: "restore", Path: abs, Version: version})
	if err != nil {
		return 0, err
	}
	if resp.Error != "" {
		return 0, errors.New(resp.Error)
	}
	return resp.Version, nil
}

// RestoreFolderThroughAgent asks the running agent to restore a folder as
// it was at at (see RestoreFolderAt); ErrAgentNotRunning if none runs.
func RestoreFolderThroughAgent(ctx context.Context, dataDir, dir string, at time.Time) (FolderRestore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return FolderRestore{}, err
	}
	resp, err := askAgent(ctx, dataDir, actionRequest{Op: "restore-folder", Path: abs, At: at})
	if err != nil {
		return FolderRestore{}, err
	}
	var out FolderRestore
	if resp.Folder != nil {
		out = *resp.Folder
	}
	if resp.Error != "" {
		return out, errors.New(resp.Error)
	}
	return out, nil
}

// ShareThroughAgent asks the running agent to share the file at path (see
// Share); ErrAgentNotRunning if none runs.
func ShareThroughAgent(ctx context.Context, dataDir, path string, o ShareOptions) (ShareLink, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ShareLink{}, err
	}
	resp, err := askAgent(ctx, dataDir, actionRequest{Op: "share", Path: abs, Share: &o})
	if err != nil {
		return ShareLink{}, err
	}
	if resp.Error != "" {
		return ShareLink{}, errors.New(resp.Error)
	}
	if resp.Share == nil {
		return ShareLink{}, errors.New("the agent made no share")
	}
	return *resp.Share, nil
}
