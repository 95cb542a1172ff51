package alerts

// Delivery: each sink has its own bounded queue and goroutine, retries
// with exponential backoff, and never blocks the caller (a full queue
// drops the oldest alert, counted). Every alert is also in the audit log,
// whatever the sinks do.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WebhookConfig: alerts POSTed as JSON, signed with HMAC-SHA256.
type WebhookConfig struct {
	// URL receives the alerts (https; http only for a receiver on
	// loopback). Empty: no webhook.
	URL string `yaml:"url"`
	// SecretEnv names the variable holding the HMAC key.
	SecretEnv   string        `yaml:"secret_env"`
	Timeout     time.Duration `yaml:"timeout"`
	MaxAttempts int           `yaml:"max_attempts"`
}

func (w WebhookConfig) validate() error {
	if w.URL == "" {
		return nil
	}
	u, err := url.Parse(w.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("webhook.url %q is not an http(s) URL", w.URL)
	}
	if u.Scheme == "http" {
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("webhook.url: plain http only to a receiver on loopback (alerts name users and matters)")
		}
	}
	if w.SecretEnv == "" {
		return errors.New("webhook.secret_env must name the variable holding the HMAC key")
	}
	if w.Timeout <= 0 || w.MaxAttempts < 1 {
		return errors.New("webhook.timeout and webhook.max_attempts must be positive")
	}
	return nil
}

// SyslogConfig: alerts as RFC 5424 messages to a syslog receiver (the
// SIEM).
type SyslogConfig struct {
	// Network is tcp (octet-counted framing, RFC 6587), tcp+tls, or udp.
	Network string `yaml:"network"`
	// Address is host:port; empty: no syslog.
	Address  string `yaml:"address"`
	AppName  string `yaml:"app_name"`
	Facility int    `yaml:"facility"` // 13 (log audit) by default
	// CACertFile verifies a tcp+tls receiver (default: system roots).
	CACertFile string `yaml:"ca_cert_file"`
}

func (s SyslogConfig) validate() error {
	if s.Address == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(s.Address); err != nil {
		return fmt.Errorf("syslog.address %q is not host:port", s.Address)
	}
	switch s.Network {
	case "tcp", "tcp+tls", "udp":
	default:
		return fmt.Errorf("syslog.network %q is not tcp, tcp+tls or udp", s.Network)
	}
	if s.Facility < 0 || s.Facility > 23 {
		return errors.New("syslog.facility must be 0 to 23")
	}
	if s.AppName == "" || len(s.AppName) > 48 || strings.ContainsAny(s.AppName, " \t\n") {
		return errors.New("syslog.app_name must be 1 to 48 printable characters without spaces")
	}
	return nil
}

// Sink delivers one alert; an error means try again later.
type Sink interface {
	Name() string
	Deliver(ctx context.Context, a Alert) error
}

// Webhook POSTs alerts as JSON with an HMAC-SHA256 signature:
//
//	X-Mattersync-Timestamp: <Unix seconds>
//	X-Mattersync-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>
//
// The receiver recomputes it and refuses old timestamps (replays).
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

// NewWebhook returns a webhook sink (secret: the HMAC key).
func NewWebhook(cfg WebhookConfig, secret []byte) (*Webhook, error) {
	if len(secret) < 16 {
		return nil, errors.New("alerts: the webhook HMAC key must be at least 16 bytes")
	}
	return &Webhook{url: cfg.URL, secret: secret, client: &http.Client{Timeout: cfg.Timeout}, now: time.Now}, nil
}

// Name implements Sink.
func (w *Webhook) Name() string { return "webhook" }

// Sign returns the signature header value for body at timestamp ts.
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Deliver implements Sink: a 2xx answer is delivered; anything else is
// retried.
func (w *Webhook) Deliver(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Mattersync-Alert-Id", a.ID)
	req.Header.Set("X-Mattersync-Timestamp", ts)
	req.Header.Set("X-Mattersync-Signature", Sign(w.secret, ts, body))
	res, err := w.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", res.Status)
	}
	return nil
}

// Syslog sends alerts as RFC 5424 messages.
type Syslog struct {
	cfg      SyslogConfig
	hostname string
	tls      *tls.Config

	mu   sync.Mutex // guards conn
	conn net.Conn
}

// NewSyslog returns a syslog sink; it connects on first use.
func NewSyslog(cfg SyslogConfig) (*Syslog, error) {
	h, _ := os.Hostname()
	if h == "" {
		h = "-"
	}
	s := &Syslog{cfg: cfg, hostname: h}
	if cfg.Network == "tcp+tls" {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CACertFile != "" {
			pem, err := os.ReadFile(cfg.CACertFile)
			if err != nil {
				return nil, fmt.Errorf("alerts: syslog CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("alerts: syslog CA %s: no PEM certificates", cfg.CACertFile)
			}
			s.tls.RootCAs = pool
		}
	}
	return s, nil
}

// Name implements Sink.
func (s *Syslog) Name() string { return "syslog" }

// Format renders a as an RFC 5424 message: PRI from the facility and the
// alert's severity, structured data [mattersync@32473 ...] with the alert's
// fields, the summary as the message.
func (s *Syslog) Format(a Alert) []byte {
	sev := 4 // warning
	if a.Severity == Critical {
		sev = 2
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s %s - %s [mattersync@32473", s.cfg.Facility*8+sev, a.Time.UTC().Format("2006-01-02T15:04:05.000000Z"),
		header(s.hostname, 255), header(s.cfg.AppName, 48), header(a.Rule, 32))
	for _, kv := range [][2]string{{"id", a.ID}, {"rule", a.Rule}, {"severity", a.Severity}, {"entity", a.Entity}, {"user", a.User},
		{"device", a.Device}, {"source", a.Source}, {"matter", a.Matter}, {"records", joinSeqs(a.Records)}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=\"%s\"", kv[0], sdEscape(kv[1]))
		}
	}
	b.WriteString("] \xEF\xBB\xBF") // BOM: the message is UTF-8
	b.WriteString(a.Summary)
	return []byte(b.String())
}

func joinSeqs(s []int64) string {
	parts := make([]string, len(s))
	for i, n := range s {
		parts[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(parts, ",")
}

// header makes a header field: printable US-ASCII without spaces, at most
// n characters, "-" if empty.
func header(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r > 32 && r < 127 && b.Len() < n {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// sdEscape escapes a structured-data parameter value (RFC 5424 6.3.3).
func sdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

// Deliver implements Sink: one message, on a connection kept open (made
// again after an error).
func (s *Syslog) Deliver(ctx context.Context, a Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.cfg.Network != "udp" && !alive(s.conn) {
		// The receiver closed the connection: a write would seem to
		// succeed and the message be lost.
		s.conn.Close()
		s.conn = nil
	}
	if s.conn == nil {
		d := net.Dialer{Timeout: 10 * time.Second}
		var c net.Conn
		var err error
		switch s.cfg.Network {
		case "tcp+tls":
			td := tls.Dialer{NetDialer: &d, Config: s.tls}
			c, err = td.DialContext(ctx, "tcp", s.cfg.Address)
		default:
			c, err = d.DialContext(ctx, s.cfg.Network, s.cfg.Address)
		}
		if err != nil {
			return err
		}
		s.conn = c
	}
	msg := s.Format(a)
	if s.cfg.Network != "udp" {
		// RFC 6587 octet counting: "<length> <message>".
		msg = append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.conn.Write(msg); err != nil {
		s.conn.Close()
		s.conn = nil
		return err
	}
	return nil
}

// alive reports whether the receiver has not closed c: a receiver never
// sends, so a read that times out means the connection is open.
func alive(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Close closes the connection.
func (s *Syslog) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// Counter counts deliveries: result ok, retry (an attempt failed), dropped
// (given up, or pushed out of a full queue).
type Counter func(sink, result string)

// Dispatcher hands alerts to the sinks, each with its own queue and
// goroutine; Enqueue never blocks.
type Dispatcher struct {
	queues []*queue
	wg     sync.WaitGroup
}

type queue struct {
	sink        Sink
	ch          chan Alert
	maxAttempts int
	count       Counter
	log         *slog.Logger
	backoff     func(attempt int) time.Duration
}

// QueueSize bounds each sink's queue.
const QueueSize = 1000

// NewDispatcher starts delivering to sinks until ctx ends; maxAttempts
// bounds the tries of one alert (then it is dropped, counted and logged).
func NewDispatcher(ctx context.Context, sinks []Sink, maxAttempts int, count Counter, log *slog.Logger) *Dispatcher {
	d := &Dispatcher{}
	for _, s := range sinks {
		q := &queue{sink: s, ch: make(chan Alert, QueueSize), maxAttempts: maxAttempts, count: count, log: log, backoff: Backoff}
		d.queues = append(d.queues, q)
		d.wg.Add(1)
		go func() { defer d.wg.Done(); q.run(ctx) }()
	}
	return d
}

// SetBackoff replaces the retry delays (tests).
func (d *Dispatcher) SetBackoff(f func(attempt int) time.Duration) {
	for _, q := range d.queues {
		q.backoff = f
	}
}

// Backoff is the delay before retry attempt n (1, 2, ...): 1 s doubling
// to at most 5 min.
func Backoff(n int) time.Duration {
	d := time.Second << min(n-1, 9)
	return min(d, 5*time.Minute)
}

// Enqueue queues a for every sink, dropping the oldest queued alert of a
// full queue.
func (d *Dispatcher) Enqueue(a Alert) {
	for _, q := range d.queues {
		for {
			select {
			case q.ch <- a:
			default:
				select {
				case old := <-q.ch:
					q.count(q.sink.Name(), "dropped")
					q.log.Error("alert queue full: an alert was not delivered", "sink", q.sink.Name(), "alert", old.ID)
				default:
				}
				continue
			}
			break
		}
	}
}

// Wait waits for the sinks' goroutines (after ctx ended).
func (d *Dispatcher) Wait() { d.wg.Wait() }

func (q *queue) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-q.ch:
			q.deliver(ctx, a)
		}
	}
}

func (q *queue) deliver(ctx context.Context, a Alert) {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := q.sink.Deliver(actx, a)
		cancel()
		if err == nil {
			q.count(q.sink.Name(), "ok")
			return
		}
		if attempt >= q.maxAttempts || ctx.Err() != nil {
			q.count(q.sink.Name(), "dropped")
			q.log.Error("alert not delivered", "sink", q.sink.Name(), "alert", a.ID, "attempts", attempt, "err", err)
			return
		}
		q.count(q.sink.Name(), "retry")
		q.log.Warn("alert delivery failed; retrying", "sink", q.sink.Name(), "alert", a.ID, "attempt", attempt, "err", err)
		t := time.NewTimer(q.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			q.count(q.sink.Name(), "dropped")
			return
		case <-t.C:
		}
	}
}
