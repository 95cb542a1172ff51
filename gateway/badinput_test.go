package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// raw sends a hand-written request over TCP: head is the request line and
// headers (without the final blank line). With closeWrite the client
// half-closes after body, like a client whose upload was cut.
func (e *env) raw(head string, body []byte, closeWrite bool) resp {
	e.t.Helper()
	u, _ := url.Parse(e.url)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	head = strings.ReplaceAll(head, "\n", "\r\n")
	if _, err := io.WriteString(c, head+"\r\nHost: "+u.Host+"\r\nConnection: close\r\n\r\n"); err != nil {
		e.t.Fatal(err)
	}
	c.Write(body)
	if closeWrite {
		c.(*net.TCPConn).CloseWrite()
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		e.t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, envOpts{})
	tok := e.token("ent-1", "matter-a-rw", "matter-b-rw", "mattersync-admins")
	cA, _ := e.putChunk("a", tok, 64)
	cB, _ := e.putChunk("b", tok, 64)
	fA := e.newFile("a")
	e.commit("a", tok, fA, 0, cA)
	e.commit("a", tok, fA, 1, cA)
	fDel := e.newFile("a")
	e.commit("a", tok, fDel, 0)
	e.del("a", tok, fDel, 1)
	chunk := "/v1/matters/a/chunks/"
	file := "/v1/matters/a/files/"
	newID, body := e.chunk("a", 100)
	newChunk := newID.String()
	sum := sumHex(body)
	good := e.commitBody("a", fA, 3, cA) // sealed for version 3: If-Match "2"
	auth := "Authorization: Bearer " + tok + "\nX-Mattersync-Device: T"
	bigID, big := e.chunk("a", 300<<10)
	junk := make([]byte, 200)
	rand.Read(junk)
	otherMatterID, otherMatterChunk := e.chunk("b", 100)
	_, otherChunk := e.chunk("a", 100)
	longer := append(append([]byte{}, body...), 0)
	fNew := e.newFile("a")
	withManifest := func(m []byte) []byte { return rawCommitBody(t, m, cA) }
	tomb3 := e.tombstoneBody("a", fA, 3) // deletes fA on top of version 2
	fB := e.newFile("b")
	e.commit("b", tok, fB, 0)
	manyIDs := `{"ids":[` + strings.Repeat(`"`+cA.String()+`",`, 2000) + `"` + cA.String() + `"]}`

	type tc struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		body   []byte
		send   func() resp // instead of method/path/hdr/body
		status int
		code   api.Code
		msg    string // in the error message, if set
	}
	cases := []tc{
		// Traversal and encodings in IDs.
		{name: "traversal in chunk ID", method: "GET", path: chunk + "../../../etc/passwd", status: 400, code: api.CodeInvalidRequest},
		{name: "dot-dot segment", method: "GET", path: "/v1/matters/a/chunks/../files/" + fA.String(), status: 400, code: api.CodeInvalidRequest},
		{name: "encoded traversal", method: "GET", path: chunk + "%2e%2e%2f%2e%2e%2fetc", status: 400, code: api.CodeInvalidRequest},
		{name: "encoded slash in ID", method: "GET", path: chunk + cA.String()[:32] + "%2F" + cA.String()[32:], status: 400, code: api.CodeInvalidRequest},
		{name: "encoded hex in ID", method: "GET", path: chunk + "%61" + cA.String()[1:], status: 400, code: api.CodeInvalidRequest},
		{name: "double slash", method: "GET", path: "/v1/matters/a//chunks/" + cA.String(), status: 400, code: api.CodeInvalidRequest},
		{name: "traversal in matter", method: "PUT", path: "/v1/matters/..%2fb/chunks/" + newChunk, hdr: map[string]string{api.HeaderChecksum: sum}, body: body, status: 400, code: api.CodeInvalidRequest},
		// Wrong lengths and alphabets.
		{name: "chunk ID 63 chars", method: "GET", path: chunk + cA.String()[:63], status: 400, code: api.CodeInvalidRequest},
		{name: "chunk ID 65 chars", method: "GET", path: chunk + cA.String() + "0", status: 400, code: api.CodeInvalidRequest},
		{name: "chunk ID uppercase", method: "GET", path: chunk + strings.ToUpper(cA.String()), status: 400, code: api.CodeInvalidRequest},
		{name: "chunk ID non-hex", method: "PUT", path: chunk + "g" + newChunk[1:], hdr: map[string]string{api.HeaderChecksum: sum}, body: body, status: 400, code: api.CodeInvalidRequest},
		{name: "file ID non-hex", method: "PUT", path: file + "z" + fA.String()[1:], hdr: map[string]string{"If-Match": `"2"`}, body: good, status: 400, code: api.CodeInvalidRequest},
		{name: "matter ID uppercase", method: "GET", path: "/v1/matters/A/changes", status: 400, code: api.CodeInvalidRequest},
		{name: "matter ID 41 chars", method: "GET", path: "/v1/matters/" + strings.Repeat("a", 41) + "/changes", status: 400, code: api.CodeInvalidRequest},
		{name: "matter ID leading dash", method: "GET", path: "/v1/matters/-a/changes", status: 400, code: api.CodeInvalidRequest},
		// Chunk uploads.
		{name: "oversized chunk", send: func() resp {
			return e.raw(fmt.Sprintf("PUT %s%s HTTP/1.1\n%s\n%s: %s\nContent-Length: %d", chunk, newChunk, auth, api.HeaderChecksum, sum, 2<<20), nil, false)
		}, status: 413, code: api.CodeTooLarge},
		{name: "chunk without Content-Length", send: func() resp {
			return e.raw(fmt.Sprintf("PUT %s%s HTTP/1.1\n%s\n%s: %s\nTransfer-Encoding: chunked", chunk, newChunk, auth, api.HeaderChecksum, sum),
				[]byte(fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)), false)
		}, status: 411, code: api.CodeLengthRequired},
		{name: "empty chunk", method: "PUT", path: chunk + newChunk, hdr: map[string]string{api.HeaderChecksum: sum}, body: []byte{}, status: 400, code: api.CodeInvalidRequest},
		{name: "chunk without checksum", method: "PUT", path: chunk + newChunk, body: body, status: 400, code: api.CodeInvalidRequest},
		{name: "chunk checksum uppercase", method: "PUT", path: chunk + newChunk, hdr: map[string]string{api.HeaderChecksum: strings.ToUpper(sum)}, body: body, status: 400, code: api.CodeInvalidRequest},
		{name: "chunk checksum mismatch", method: "PUT", path: chunk + newChunk, hdr: map[string]string{api.HeaderChecksum: sumHex([]byte("other"))}, body: body, status: 400, code: api.CodeChecksumMismatch},
		{name: "truncated upload", send: func() resp {
			return e.raw(fmt.Sprintf("PUT %s%s HTTP/1.1\n%s\n%s: %s\nContent-Length: %d", chunk, bigID, auth, api.HeaderChecksum, sumHex(big), len(big)), big[:len(big)/2], true)
		}, status: 400, code: api.CodeIncompleteBody},
		{name: "chunk not sealed", method: "PUT", path: chunk + newChunk, hdr: map[string]string{api.HeaderChecksum: sumHex(junk)}, body: junk, status: 400, code: api.CodeInvalidRequest},
		{name: "chunk shorter than a header", method: "PUT", path: chunk + newChunk, hdr: map[string]string{api.HeaderChecksum: sumHex(body[:20])}, body: body[:20], status: 400, code: api.CodeInvalidRequest},
		{name: "chunk sealed for another matter", method: "PUT", path: chunk + otherMatterID.String(), hdr: map[string]string{api.HeaderChecksum: sumHex(otherMatterChunk)}, body: otherMatterChunk, status: 400, code: api.CodeInvalidRequest},
		{name: "chunk under another ID", method: "PUT", path: chunk + newChunk, hdr: map[string]string{api.HeaderChecksum: sumHex(otherChunk)}, body: otherChunk, status: 400, code: api.CodeInvalidRequest},
		{name: "chunk longer than its header says", method: "PUT", path: chunk + newChunk, hdr: map[string]string{api.HeaderChecksum: sumHex(longer)}, body: longer, status: 400, code: api.CodeInvalidRequest},
		{name: "missing-chunks bad ID", method: "POST", path: chunk + "missing", body: []byte(`{"ids":["../x"]}`), status: 400, code: api.CodeInvalidRequest},
		{name: "missing-chunks too many IDs", method: "POST", path: chunk + "missing", body: []byte(manyIDs), status: 413, code: api.CodeTooLarge},
		{name: "missing-chunks unknown field", method: "POST", path: chunk + "missing", body: []byte(`{"ids":[],"also":1}`), status: 400, code: api.CodeInvalidRequest},
		// Commits.
		{name: "commit chunk ID uppercase", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`},
			body: []byte(strings.Replace(string(e.commitBody("a", fA, 3, cA)), cA.String(), strings.ToUpper(cA.String()), 1)), status: 400, code: api.CodeInvalidRequest},
		{name: "commit chunk ID a number", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`},
			body: []byte(strings.Replace(string(e.commitBody("a", fA, 3, cA)), `"`+cA.String()+`"`, `12`, 1)), status: 400, code: api.CodeInvalidRequest},
		{name: "commit references missing chunk", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: e.commitBody("a", fA, 3, cA, randomID(t)), status: 409, code: api.CodeMissingChunks},
		{name: "commit references other matter's chunk", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: e.commitBody("a", fA, 3, cB), status: 409, code: api.CodeMissingChunks},
		{name: "stale If-Match", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"1"`}, body: e.commitBody("a", fA, 2, cA), status: 412, code: api.CodeVersionMismatch},
		{name: "If-Match beyond head", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"9"`}, body: e.commitBody("a", fA, 10, cA), status: 412, code: api.CodeVersionMismatch},
		{name: "create over existing file", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-None-Match": "*"}, body: e.commitBody("a", fA, 1, cA), status: 412, code: api.CodeVersionMismatch},
		{name: "manifest not sealed", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: withManifest(junk), status: 400, code: api.CodeInvalidRequest},
		{name: "manifest sealed for another version", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: e.commitBody("a", fA, 2, cA), status: 400, code: api.CodeInvalidRequest},
		{name: "manifest of another file", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: e.commitBody("a", fNew, 3, cA), status: 400, code: api.CodeInvalidRequest},
		{name: "manifest of another matter", method: "PUT", path: "/v1/matters/b/files/" + fNew.String(), hdr: map[string]string{"If-None-Match": "*"}, body: e.commitBody("a", fNew, 1), status: 400, code: api.CodeInvalidRequest},
		{name: "manifest truncated", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: withManifest(e.manifest("a", fA, 3, cA)[:100]), status: 400, code: api.CodeInvalidRequest},
		{name: "tombstone manifest", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: withManifest(e.sealer.Tombstone(t, "a", e.sealer.Path(t, fA), 3)), status: 400, code: api.CodeInvalidRequest},
		{name: "commit without precondition", method: "PUT", path: file + fA.String(), body: good, status: 428, code: api.CodePreconditionRequired},
		{name: "If-Match and If-None-Match", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`, "If-None-Match": "*"}, body: good, status: 400, code: api.CodeInvalidRequest},
		{name: "weak If-Match", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `W/"2"`}, body: good, status: 400, code: api.CodeInvalidRequest},
		{name: "If-Match star", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `*`}, body: good, status: 400, code: api.CodeInvalidRequest},
		{name: "If-Match zero", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"0"`}, body: good, status: 400, code: api.CodeInvalidRequest},
		{name: "commit unknown JSON field", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: []byte(`{"manifest":"bWFu","chunks":[],"path":"/etc/passwd"}`), status: 400, code: api.CodeInvalidRequest},
		{name: "commit trailing data", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: append(append([]byte{}, good...), []byte(`{}`)...), status: 400, code: api.CodeInvalidRequest},
		{name: "commit not JSON", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: []byte("manifest"), status: 400, code: api.CodeInvalidRequest},
		{name: "commit wrong content type", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`, "Content-Type": "text/plain"}, body: good, status: 400, code: api.CodeInvalidRequest},
		{name: "commit empty manifest", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: []byte(`{"manifest":"","chunks":[]}`), status: 400, code: api.CodeInvalidRequest},
		{name: "commit bad chunk reference", method: "PUT", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: []byte(strings.Replace(string(good), cA.String(), "../../c", 1)), status: 400, code: api.CodeInvalidRequest},
		{name: "commit body too large", send: func() resp {
			return e.raw(fmt.Sprintf("PUT %s%s HTTP/1.1\n%s\nIf-Match: \"2\"\nContent-Length: %d", file, fA, auth, 1<<20), nil, false)
		}, status: 413, code: api.CodeTooLarge},
		{name: "commit chunked body too large", send: func() resp {
			payload := []byte(`{"manifest":"` + strings.Repeat("A", 300<<10) + `","chunks":[]}`)
			return e.raw(fmt.Sprintf("PUT %s%s HTTP/1.1\n%s\nIf-Match: \"2\"\nTransfer-Encoding: chunked", file, fA, auth),
				[]byte(fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(payload), payload)), false)
		}, status: 413, code: api.CodeTooLarge},
		{name: "delete with If-None-Match", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-None-Match": "*"}, body: tomb3, status: 400, code: api.CodeInvalidRequest},
		{name: "delete without If-Match", method: "DELETE", path: file + fA.String(), body: tomb3, status: 428, code: api.CodePreconditionRequired},
		{name: "delete stale", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"1"`}, body: e.tombstoneBody("a", fA, 2), status: 412, code: api.CodeVersionMismatch},
		{name: "delete deleted file", method: "DELETE", path: file + fDel.String(), hdr: map[string]string{"If-Match": `"2"`}, body: e.tombstoneBody("a", fDel, 3), status: 409, code: api.CodeAlreadyDeleted},
		// Deletes carry a sealed tombstone.
		{name: "delete without body", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, status: 400, code: api.CodeInvalidRequest, msg: "sealed tombstone manifest"},
		{name: "delete with empty JSON", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: []byte(`{}`), status: 400, code: api.CodeInvalidRequest, msg: "manifest is empty"},
		{name: "delete with a manifest that is not a tombstone", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: good, status: 400, code: api.CodeInvalidRequest, msg: "not a tombstone"},
		{name: "delete with tombstone for another version", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: e.tombstoneBody("a", fA, 2), status: 400, code: api.CodeInvalidRequest, msg: "version 3"},
		{name: "delete with tombstone of another file", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: e.tombstoneBody("a", fNew, 3), status: 400, code: api.CodeInvalidRequest, msg: "file ID"},
		{name: "delete with tombstone of another matter", method: "DELETE", path: "/v1/matters/b/files/" + fB.String(), hdr: map[string]string{"If-Match": `"1"`}, body: e.tombstoneBody("a", fB, 2), status: 400, code: api.CodeInvalidRequest, msg: "matter"},
		{name: "delete with tombstone and chunks", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: rawCommitBody(t, e.sealer.TombstoneOf(t, "a", fA, 3), cA), status: 400, code: api.CodeInvalidRequest, msg: "no chunks"},
		{name: "delete with truncated tombstone", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: withManifest(e.sealer.TombstoneOf(t, "a", fA, 3)[:80]), status: 400, code: api.CodeInvalidRequest},
		{name: "delete with unsealed bytes", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: rawCommitBody(t, junk), status: 400, code: api.CodeInvalidRequest},
		{name: "delete unknown JSON field", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: []byte(`{"manifest":"bWFu","chunks":[],"deleted":true}`), status: 400, code: api.CodeInvalidRequest},
		{name: "delete not JSON", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: []byte("tombstone"), status: 400, code: api.CodeInvalidRequest},
		{name: "delete trailing data", method: "DELETE", path: file + fA.String(), hdr: map[string]string{"If-Match": `"2"`}, body: append(append([]byte{}, tomb3...), []byte(`{}`)...), status: 400, code: api.CodeInvalidRequest},
		{name: "delete body too large", send: func() resp {
			return e.raw(fmt.Sprintf("DELETE %s%s HTTP/1.1\n%s\nIf-Match: \"2\"\nContent-Length: %d", file, fA, auth, 1<<20), nil, false)
		}, status: 413, code: api.CodeTooLarge},
		// Reads and the change feed.
		{name: "other matter's chunk", method: "GET", path: chunk + cB.String(), status: 404, code: api.CodeNotFound},
		{name: "other matter's file", method: "GET", path: "/v1/matters/b/files/" + fA.String(), status: 404, code: api.CodeNotFound},
		{name: "file version 0", method: "GET", path: file + fA.String() + "?version=0", status: 400, code: api.CodeInvalidRequest},
		{name: "file version not a number", method: "GET", path: file + fA.String() + "?version=2;drop", status: 400, code: api.CodeInvalidRequest},
		{name: "huge wait", method: "GET", path: "/v1/matters/a/changes?since=0&wait=8760h", status: 400, code: api.CodeInvalidRequest},
		{name: "huge wait in seconds", method: "GET", path: "/v1/matters/a/changes?wait=99999999999999", status: 400, code: api.CodeInvalidRequest},
		{name: "negative wait", method: "GET", path: "/v1/matters/a/changes?wait=-1s", status: 400, code: api.CodeInvalidRequest},
		{name: "negative since", method: "GET", path: "/v1/matters/a/changes?since=-1", status: 400, code: api.CodeInvalidRequest},
		{name: "since not a number", method: "GET", path: "/v1/matters/a/changes?since=1e3", status: 400, code: api.CodeInvalidRequest},
		{name: "since given twice", method: "GET", path: "/v1/matters/a/changes?since=1&since=2", status: 400, code: api.CodeInvalidRequest},
		{name: "unknown query parameter", method: "GET", path: "/v1/matters/a/changes?sinse=1", status: 400, code: api.CodeInvalidRequest},
		{name: "limit zero", method: "GET", path: "/v1/matters/a/changes?limit=0", status: 400, code: api.CodeInvalidRequest},
		// Headers, routes, methods, admin bodies.
		{name: "device header not ASCII", method: "GET", path: "/v1/matters", hdr: map[string]string{api.HeaderDevice: "LAPTOP-\u00e9"}, status: 400, code: api.CodeInvalidRequest},
		{name: "device header too long", method: "GET", path: "/v1/matters", hdr: map[string]string{api.HeaderDevice: strings.Repeat("x", 65)}, status: 400, code: api.CodeInvalidRequest},
		{name: "basic auth", send: func() resp {
			return e.raw("GET /v1/matters HTTP/1.1\nAuthorization: Basic dXNlcjpwYXNz", nil, false)
		}, status: 401, code: api.CodeUnauthenticated},
		{name: "unknown route", method: "GET", path: "/v1/matters/a/objects", status: 404, code: api.CodeNotFound},
		{name: "outside /v1", method: "GET", path: "/m/a/c/" + cA.String(), status: 404, code: api.CodeNotFound},
		{name: "method not allowed", method: "PATCH", path: file + fA.String(), body: good, status: 405, code: api.CodeMethodNotAllowed},
		{name: "chunk sealed for another matter, through that matter's ID", method: "GET", path: chunk + otherMatterID.String(), status: 404, code: api.CodeNotFound},
		{name: "deny unknown field", method: "POST", path: "/v1/admin/deny", body: []byte(`{"entity_id":"x","admin":true}`), status: 400, code: api.CodeInvalidRequest},
		{name: "deny bad entity", method: "POST", path: "/v1/admin/deny", body: []byte(`{"entity_id":"../x"}`), status: 400, code: api.CodeInvalidRequest},
		{name: "hold without reason", method: "PUT", path: "/v1/admin/matters/a/hold", body: []byte(`{}`), status: 400, code: api.CodeInvalidRequest},
		{name: "audit export bad result", method: "GET", path: "/v1/admin/audit?result=fine", status: 400, code: api.CodeInvalidRequest},
		{name: "audit export bad action", method: "GET", path: "/v1/admin/audit?action=file.commit,%3Cx%3E", status: 400, code: api.CodeInvalidRequest},
		{name: "audit export bad time", method: "GET", path: "/v1/admin/audit?since=yesterday", status: 400, code: api.CodeInvalidRequest},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	matters := []string{"a", "b"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.snapshot(matters...)
			var r resp
			if c.send != nil {
				r = c.send()
			} else {
				r = e.do(c.method, c.path, tok, c.hdr, c.body)
			}
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if got := r.apiError(t).Code; got != c.code {
				t.Fatalf("code %q, want %q (%s)", got, c.code, r.body)
			}
			if !strings.Contains(r.apiError(t).Message, c.msg) {
				t.Fatalf("message %q does not say %q", r.apiError(t).Message, c.msg)
			}
			after := e.snapshot(matters...)
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed:\nbefore %+v\nafter  %+v", before, after)
			}
			if id := r.header.Get(api.HeaderRequestID); id == "" || e.record(id) == nil {
				t.Fatalf("request %q was not audited", id)
			}
		})
	}
}

// TestCutUploadLeavesNothing cuts chunk uploads mid-body in two ways
// (connection dropped; half-closed) and checks nothing half-written is
// visible: not in S3, not as a chunk, not downloadable.
func TestCutUploadLeavesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	tok := e.token("ent-1", "matter-a-rw")
	u, _ := url.Parse(e.url)
	for _, mode := range []string{"drop", "half-close"} {
		t.Run(mode, func(t *testing.T) {
			before := e.snapshot("a")
			id, body := e.chunk("a", 900<<10)
			head := fmt.Sprintf("PUT /v1/matters/a/chunks/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n%s: %s\r\nContent-Length: %d\r\n\r\n",
				id, u.Host, tok, api.HeaderChecksum, sumHex(body), len(body))
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, head)
			c.Write(body[:len(body)/3])
			if mode == "drop" {
				c.Close()
			} else {
				c.(*net.TCPConn).CloseWrite()
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil || res.StatusCode != 400 {
					t.Fatalf("half-closed upload: %v, %v", res, err)
				}
				c.Close()
			}
			// The gateway finishes the request (and its audit record)
			// asynchronously after a drop: wait for the record.
			deadline := time.Now().Add(20 * time.Second)
			for {
				var found bool
				e.store.Audit.AuditRecords(context.Background(), audit.Query{}, func(r *audit.Record) error {
					if r.Object == id.String() && r.Action == "chunk.put" {
						found = true
					}
					return nil
				})
				if found {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the cut upload was never audited")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if after := e.snapshot("a"); !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed:\nbefore %+v\nafter  %+v", before, after)
			}
			if _, err := e.store.Chunks.Chunk(context.Background(), "a", id); err != store.ErrNotFound {
				t.Fatalf("cut chunk recorded: %v", err)
			}
			r := e.do("GET", "/v1/matters/a/chunks/"+id.String(), tok, nil, nil)
			if r.status != 404 {
				t.Fatalf("GET cut chunk: %d", r.status)
			}
			r = e.do("POST", "/v1/matters/a/chunks/missing", tok, nil, []byte(`{"ids":["`+id.String()+`"]}`))
			if !bytes.Contains(r.body, []byte(id.String())) {
				t.Fatalf("cut chunk not reported missing: %s", r.body)
			}
			// A complete retry then succeeds.
			r = e.do("PUT", "/v1/matters/a/chunks/"+id.String(), tok, map[string]string{api.HeaderChecksum: sumHex(body)}, body)
			if r.status != 201 {
				t.Fatalf("retry: %d %s", r.status, r.body)
			}
		})
	}
}
