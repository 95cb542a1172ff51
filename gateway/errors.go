package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/internal/fault"
)

// Kind classifies a refused or failed request. Each Kind has one HTTP
// status, one api.Code and one audit result.
type Kind int

// Kinds of error, in the order of kinds below.
const (
	KindInternal Kind = iota
	KindInvalid
	KindChecksumMismatch
	KindIncompleteBody
	KindUnauthenticated
	KindForbidden
	KindRevoked
	KindNotFound
	KindMethodNotAllowed
	KindMissingChunks
	KindChunksPresent
	KindLegalHold
	KindAlreadyDeleted
	KindStaleEpoch
	KindLengthRequired
	KindVersionMismatch
	KindTooLarge
	KindFileTooLarge
	KindPreconditionRequired
	KindRateLimited
	KindMatterClosed
	KindSharingOff
	KindShareExpired
	KindShareRevoked
	KindShareUsedUp
	KindCodeWrong
	KindCodeLimit
	KindGrantInvalid
	KindRequestExpired
	KindRequestRevoked
	KindRequestFull
	KindDropClaimed
	KindUnavailable
)

type kindInfo struct {
	status int
	code   api.Code
	result string
}

// kinds is indexed by Kind; a function, not a package variable, so there is
// no global state.
func kinds() [KindUnavailable + 1]kindInfo {
	return [...]kindInfo{
		KindInternal:             {http.StatusInternalServerError, api.CodeInternal, audit.ResultError},
		KindInvalid:              {http.StatusBadRequest, api.CodeInvalidRequest, audit.ResultInvalid},
		KindChecksumMismatch:     {http.StatusBadRequest, api.CodeChecksumMismatch, audit.ResultInvalid},
		KindIncompleteBody:       {http.StatusBadRequest, api.CodeIncompleteBody, audit.ResultInvalid},
		KindUnauthenticated:      {http.StatusUnauthorized, api.CodeUnauthenticated, audit.ResultDenied},
		KindForbidden:            {http.StatusForbidden, api.CodeForbidden, audit.ResultDenied},
		KindRevoked:              {http.StatusForbidden, api.CodeRevoked, audit.ResultDenied},
		KindNotFound:             {http.StatusNotFound, api.CodeNotFound, audit.ResultInvalid},
		KindMethodNotAllowed:     {http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, audit.ResultInvalid},
		KindMissingChunks:        {http.StatusConflict, api.CodeMissingChunks, audit.ResultConflict},
		KindChunksPresent:        {http.StatusConflict, api.CodeChunksPresent, audit.ResultConflict},
		KindLegalHold:            {http.StatusConflict, api.CodeLegalHold, audit.ResultLegalHold},
		KindAlreadyDeleted:       {http.StatusConflict, api.CodeAlreadyDeleted, audit.ResultConflict},
		KindStaleEpoch:           {http.StatusConflict, api.CodeStaleEpoch, audit.ResultConflict},
		KindLengthRequired:       {http.StatusLengthRequired, api.CodeLengthRequired, audit.ResultInvalid},
		KindVersionMismatch:      {http.StatusPreconditionFailed, api.CodeVersionMismatch, audit.ResultConflict},
		KindTooLarge:             {http.StatusRequestEntityTooLarge, api.CodeTooLarge, audit.ResultInvalid},
		KindFileTooLarge:         {http.StatusRequestEntityTooLarge, api.CodeFileTooLarge, audit.ResultInvalid},
		KindPreconditionRequired: {http.StatusPreconditionRequired, api.CodePreconditionRequired, audit.ResultInvalid},
		KindRateLimited:          {http.StatusTooManyRequests, api.CodeRateLimited, audit.ResultDenied},
		KindMatterClosed:         {http.StatusGone, api.CodeMatterClosed, audit.ResultDenied},
		KindSharingOff:           {http.StatusForbidden, api.CodeSharingOff, audit.ResultDenied},
		KindShareExpired:         {http.StatusGone, api.CodeShareExpired, audit.ResultDenied},
		KindShareRevoked:         {http.StatusGone, api.CodeShareRevoked, audit.ResultDenied},
		KindShareUsedUp:          {http.StatusGone, api.CodeShareUsedUp, audit.ResultDenied},
		KindCodeWrong:            {http.StatusForbidden, api.CodeCodeWrong, audit.ResultDenied},
		KindCodeLimit:            {http.StatusTooManyRequests, api.CodeCodeLimit, audit.ResultDenied},
		KindGrantInvalid:         {http.StatusForbidden, api.CodeGrantInvalid, audit.ResultDenied},
		KindRequestExpired:       {http.StatusGone, api.CodeRequestExpired, audit.ResultDenied},
		KindRequestRevoked:       {http.StatusGone, api.CodeRequestRevoked, audit.ResultDenied},
		KindRequestFull:          {http.StatusGone, api.CodeRequestFull, audit.ResultDenied},
		KindDropClaimed:          {http.StatusConflict, api.CodeDropClaimed, audit.ResultConflict},
		KindUnavailable:          {http.StatusServiceUnavailable, api.CodeUnavailable, audit.ResultError},
	}
}

func (k Kind) info() kindInfo {
	all := kinds()
	if k < 0 || int(k) >= len(all) {
		return all[KindInternal]
	}
	return all[k]
}

// Status is the HTTP status of k.
func (k Kind) Status() int { return k.info().status }

// Code is the api.Code of k.
func (k Kind) Code() api.Code { return k.info().code }

// Result is the audit result of k.
func (k Kind) Result() string { return k.info().result }

// Fault is the kind of failure k is in the vocabulary kms shares
// (internal/fault), by way of its api.Code.
func (k Kind) Fault() fault.Kind { return k.Code().Fault() }

// Error is the one error type at the gateway's boundary: every refused or
// failed request ends as an *Error, which becomes the response status, the
// JSON body and the audit result.
type Error struct {
	Op   string // what was being done, e.g. "chunk.put"
	Kind Kind
	// Msg is shown to the caller: it names the problem without revealing
	// anything about matters the caller cannot access.
	Msg string
	Err error // underlying cause, logged, never shown

	// Details for specific kinds.
	Current        *int64          // KindVersionMismatch
	CurrentDeleted bool            // KindVersionMismatch
	Missing        []string        // KindMissingChunks
	Present        []string        // KindChunksPresent
	CurrentEpoch   uint32          // KindStaleEpoch
	RetryAfter     time.Duration   // KindRateLimited, KindUnavailable
	Revocation     *api.Revocation // KindRevoked, when asked for
}

func (e *Error) Error() string {
	s := "gateway: " + e.Op + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Fault returns e.Kind.Fault(), for fault.Of.
func (e *Error) Fault() fault.Kind { return e.Kind.Fault() }

// E returns an *Error of kind k with a message for the caller.
func E(op string, k Kind, format string, args ...any) *Error {
	return &Error{Op: op, Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// wrap returns an *Error of kind k carrying cause err.
func wrap(op string, k Kind, err error, msg string) *Error {
	return &Error{Op: op, Kind: k, Msg: msg, Err: err}
}

// asError turns any error into an *Error: errors that are not *Error
// already are internal errors, and their text is not shown.
func asError(op string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Op: op, Kind: KindInternal, Msg: "internal error", Err: err}
}

// body is the JSON error body for e.
func (e *Error) body(requestID string) api.Error {
	b := api.Error{Code: e.Kind.Code(), Message: e.Msg, RequestID: requestID,
		CurrentVersion: e.Current, CurrentDeleted: e.CurrentDeleted, Missing: e.Missing, Present: e.Present, CurrentEpoch: e.CurrentEpoch, Revocation: e.Revocation}
	if e.Kind == KindInternal {
		b.Message = "internal error"
	}
	return b
}
