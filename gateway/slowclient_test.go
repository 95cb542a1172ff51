package gateway_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
)

// serverEnds reports whether the server ended conn (closed it, or
// answered and closed it) before our own deadline, which is far beyond
// the server's bound: a server without the bound keeps the connection
// until our deadline.
func serverEnds(t *testing.T, conn net.Conn) (answer string, ended bool) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", false
	}
	if err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v", err)
	}
	return strings.TrimSpace(line), true
}

func dial(t *testing.T, e *env) net.Conn {
	t.Helper()
	u, _ := url.Parse(e.url)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestSlowClients: a client that sends its headers, or its body, too
// slowly is cut off (read_header_timeout; request_timeout for the body),
// so slow connections cannot pile up; a long poll is not cut by
// request_timeout (its deadline is extended by its wait).
func TestSlowClients(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(c *gateway.Config) {
		c.Limits.ReadHeaderTimeout = 300 * time.Millisecond
		c.Limits.RequestTimeout = time.Second
		c.Limits.InflightWait = 500 * time.Millisecond
	}})
	tok := e.token("ent-1", "matter-a-rw")

	// Headers that never end.
	conn := dial(t, e)
	fmt.Fprintf(conn, "GET /v1/matters HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\n", tok)
	if _, ended := serverEnds(t, conn); !ended {
		t.Fatal("a request whose headers never end kept its connection")
	}

	// A chunk body that stops half-way.
	id, sealed := e.chunk("a", 64<<10)
	conn = dial(t, e)
	fmt.Fprintf(conn, "PUT /v1/matters/a/chunks/%s HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n%s: %s\r\n\r\n",
		id, tok, len(sealed), api.HeaderChecksum, sumHex(sealed))
	conn.Write(sealed[:len(sealed)/2])
	if answer, ended := serverEnds(t, conn); !ended {
		t.Fatal("a chunk upload that stopped half-way kept its connection")
	} else if strings.Contains(answer, " 201 ") || strings.Contains(answer, " 200 ") {
		t.Fatalf("a half-sent chunk was answered %q", answer)
	}
	if r := e.do("POST", "/v1/matters/a/chunks/missing", tok, nil, []byte(`{"ids":["`+id.String()+`"]}`)); !strings.Contains(string(r.body), id.String()) {
		t.Fatalf("the half-sent chunk is stored: %d %s", r.status, r.body)
	}

	// A long poll of 3 s outlives request_timeout (1 s).
	if r := e.do("GET", "/v1/matters/a/changes?since=0&wait=3s", tok, nil, nil); r.status != http.StatusOK {
		t.Fatalf("long poll: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/feed?wait=3s", tok, nil, []byte(`{"matters":[{"matter":"a","since":0}]}`)); r.status != http.StatusOK {
		t.Fatalf("feed: %d %s", r.status, r.body)
	}
}
