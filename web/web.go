// Package web is the browser side of mattersync: the web console's static
// assets (plain ES modules, no build step, embedded in the gateway binary)
// and the handler that serves them under strict security headers.
//
// static/format.js reads the at-rest format (docs/FORMAT.md) with WebCrypto;
// it is the decoder the console and the share pages use, and it passes every
// vector of format/testdata/vectors in Chromium (vectors_test.go);
// static/drop.js seals a client's uploads through a request link
// (docs/FORMAT.md, appendix C; drop_test.go). The
// browser holds keys only in memory; the gateway that serves these files
// never sees a key, a Vault token or a name.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

// Prefix is where the gateway mounts the console.
const Prefix = "/console/"

// CallbackPath is the sign-in callback below Prefix: the redirect URI the
// page gives Vault's OIDC auth method (kms.ConsoleCallbackPath).
const CallbackPath = "callback"

//go:embed static
var static embed.FS

//go:embed index.html
var indexHTML string

var indexTemplate = template.Must(template.New("index").Parse(indexHTML))

// SharePrefix is where the gateway serves share links: the recipient's
// page at SharePrefix + id (ServeShare), its API below it.
const SharePrefix = "/s/"

//go:embed share.html
var shareHTML string

var shareTemplate = template.Must(template.New("share").Parse(shareHTML))

// RequestPrefix is where the gateway serves file-request links: the
// client's upload page at RequestPrefix + id (ServeRequestPage), its API
// below it.
const RequestPrefix = "/r/"

//go:embed request.html
var requestHTML string

var requestTemplate = template.Must(template.New("request").Parse(requestHTML))

// Config says what the page may talk to besides its own origin.
type Config struct {
	// VaultAddress is Vault's URL (the gateway's vault.address): the page
	// signs in to Vault and unwraps keys there, so its origin is the only
	// other one in connect-src. Empty: the page may connect to its own
	// origin only.
	VaultAddress string
	// OIDCMount and TokenRole are Vault's OIDC auth mount and identity
	// token role: the page signs in at the first and asks the second
	// for the token it calls the admin API with, as the CLI does.
	OIDCMount, TokenRole string
	// KVMount is the Vault KV mount of the layout: the Matters page lists
	// the matters there.
	KVMount string
	// HSTS adds Strict-Transport-Security: set it when the listener
	// serves TLS.
	HSTS bool
}

// Console serves the console at Prefix: the index page at Prefix, and the
// assets under Prefix + version + "/", where version is a hash of every
// asset, so a new gateway build never serves a stale mix of modules from a
// browser's cache. Safe for concurrent use.
type Console struct {
	version string
	index   []byte
	share   []byte           // the recipient's page of a share link
	request []byte           // the client's page of a file request
	assets  map[string]asset // by path below the versioned prefix
	csp     string
	hsts    bool
}

type asset struct {
	body  []byte
	ctype string
}

// New returns the console handler. It reads the embedded assets once.
func New(cfg Config) (*Console, error) {
	c := &Console{assets: map[string]asset{}, csp: CSP(cfg.VaultAddress), hsts: cfg.HSTS}
	h := sha256.New()
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		c.assets[name] = asset{body: b, ctype: contentType(name)}
		// Names and lengths too, so no two trees hash alike.
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: read embedded assets: %w", err)
	}
	c.version = "v-" + hex.EncodeToString(h.Sum(nil))[:16]
	var buf bytes.Buffer
	page := struct{ Assets, Vault, OIDCMount, TokenRole, KVMount string }{Prefix + c.version + "/", origin(cfg.VaultAddress), cfg.OIDCMount, cfg.TokenRole, cfg.KVMount}
	if err := indexTemplate.Execute(&buf, page); err != nil {
		return nil, fmt.Errorf("web: index page: %w", err)
	}
	c.index = buf.Bytes()
	buf = bytes.Buffer{}
	if err := shareTemplate.Execute(&buf, struct{ Assets string }{Prefix + c.version + "/"}); err != nil {
		return nil, fmt.Errorf("web: share page: %w", err)
	}
	c.share = buf.Bytes()
	buf = bytes.Buffer{}
	if err := requestTemplate.Execute(&buf, struct{ Assets string }{Prefix + c.version + "/"}); err != nil {
		return nil, fmt.Errorf("web: request page: %w", err)
	}
	c.request = buf.Bytes()
	return c, nil
}

// Version is the versioned directory of the assets, e.g. "v-0123abcd…".
func (c *Console) Version() string { return c.version }

// Assets lists the asset paths below Prefix + Version() + "/".
func (c *Console) Assets() []string {
	names := make([]string, 0, len(c.assets))
	for n := range c.assets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8" // module scripts need a JavaScript type under nosniff
	case ".css":
		return "text/css; charset=utf-8"
	case "":
		return "text/plain; charset=utf-8" // LICENSE, VERSION
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// CSP is the page's Content-Security-Policy: scripts and styles from the
// gateway's origin only, never inline (so injected markup cannot run), no
// framing, and connections to the gateway and Vault only. An address that
// is not an http(s) URL adds nothing (the gateway's config validation
// reports it).
func CSP(vaultAddress string) string {
	connect := "'self'"
	if o := origin(vaultAddress); o != "" {
		connect += " " + o
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src " + connect +
		"; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
}

// origin returns scheme://host[:port] of an http(s) URL, or "". Built from
// the parsed parts, so nothing of the configured string (a ';' or a space
// that would start another directive) reaches the header unchecked.
func origin(addr string) string {
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return ""
	}
	if strings.ContainsAny(u.Host, " ;,'\"") {
		return ""
	}
	return u.Scheme + "://" + strings.ToLower(u.Host)
}

// SetHeaders sets the security headers of every console response.
func SetHeaders(h http.Header, csp string, hsts bool) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY") // frame-ancestors for browsers without CSP level 2
	if hsts {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
}

// ServeHTTP serves the index page and the versioned assets; it answers
// only GET and HEAD, only canonical paths, and nothing outside Prefix.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SetHeaders(w.Header(), c.csp, c.hsts || r.TLS != nil)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if strings.Contains(r.URL.RawPath, "%") || strings.Contains(r.URL.EscapedPath(), "%") {
		http.Error(w, "path is not canonical", http.StatusBadRequest)
		return
	}
	if p == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	// The callback is the page itself: the sign-in window comes back
	// there from the identity provider and hands the answer to the
	// console's window (console-signin.js).
	if p == Prefix || p == Prefix+CallbackPath {
		w.Header().Set("Cache-Control", "no-cache")
		c.write(w, r, "text/html; charset=utf-8", c.index)
		return
	}
	rest, ok := strings.CutPrefix(p, Prefix+c.version+"/")
	if !ok || path.Clean(p) != p {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	a, ok := c.assets[rest]
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	// The version in the path changes with any byte of any asset.
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	c.write(w, r, a.ctype, a.body)
}

// ServeShare serves the recipient's page of a share link, the same for
// every link (GET or HEAD SharePrefix + id): the page reads the share's ID
// from its path and the key from the fragment, which the browser never
// sends, and loads its script from the console's versioned assets. The
// gateway routes GET SharePrefix + id here and answers the rest itself.
// Never cached: a new gateway build must not leave a page naming assets
// that are gone.
func (c *Console) ServeShare(w http.ResponseWriter, r *http.Request) {
	// The console's policy without Vault: the page talks to the gateway's
	// share routes only.
	SetHeaders(w.Header(), CSP(""), c.hsts || r.TLS != nil)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	c.write(w, r, "text/html; charset=utf-8", c.share)
}

// ServeRequestPage serves the client's upload page of a file request, the
// same for every link (GET or HEAD RequestPrefix + id), under the same
// policy as the share page: the page reads the request's ID from its path
// and the public key from the fragment.
func (c *Console) ServeRequestPage(w http.ResponseWriter, r *http.Request) {
	SetHeaders(w.Header(), CSP(""), c.hsts || r.TLS != nil)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	c.write(w, r, "text/html; charset=utf-8", c.request)
}

func (c *Console) write(w http.ResponseWriter, r *http.Request, ctype string, body []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
