// Package redact keeps secrets out of traces: secret header values become
// "redacted:" and a keyed hash, so requests with the same credential still
// group into one session but the credential never reaches disk.
package redact

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"

	"github.com/replaykit/replaykit/trace"
)

// Prefix starts every redacted value.
const Prefix = "redacted:"

// DefaultHeaders are always redacted.
var DefaultHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-API-Key", "X-Auth-Token"}

// Redactor hashes secrets with a key. Without the key the hashes cannot be
// checked against guessed credentials. Not safe for concurrent use: it
// keeps one keyed hasher and the hashes of the values it saw last.
type Redactor struct {
	key []byte
	// mac is the keyed HMAC, Reset for each value: hmac.New costs two
	// SHA-256 states and the key's pads every time.
	mac hash.Hash
	// seen holds the hashes of recent values: a session's credential
	// comes back in every request. Bounded (cacheValues, cacheBytes):
	// emptied when full.
	seen      map[string]string
	seenBytes int
	// byLen lists the secret header names by length (the last slot holds
	// all longer ones): a header is compared with the one or two names of
	// its length, without lowercasing or hashing it.
	byLen [65][]string
}

// New makes a Redactor. An empty key gets a random one: hashes then match
// within one recording only. extra names more headers to redact.
func New(key []byte, extra []string) *Redactor {
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
	}
	r := &Redactor{key: key, mac: hmac.New(sha256.New, key), seen: map[string]string{}}
	for _, h := range append(append([]string{}, DefaultHeaders...), extra...) {
		i := min(len(h), len(r.byLen)-1)
		r.byLen[i] = append(r.byLen[i], h)
	}
	return r
}

// Bounds of the cache of hashes: values longer than cacheValueLen are
// hashed every time (a cookie header of kilobytes is rarely the same).
const (
	cacheValues   = 4096
	cacheBytes    = 1 << 20
	cacheValueLen = 1024
)

// Hash is the keyed hash of a value: 12 hex digits (48 bits) of HMAC-SHA256,
// enough to keep a trace's sessions apart, too short to be a fingerprint.
func (r *Redactor) Hash(v string) string {
	if h, ok := r.seen[v]; ok {
		return h
	}
	r.mac.Reset()
	r.mac.Write([]byte(v))
	var sum [32]byte
	h := hex.EncodeToString(r.mac.Sum(sum[:0])[:6])
	if len(v) <= cacheValueLen {
		if len(r.seen) >= cacheValues || r.seenBytes+len(v) > cacheBytes {
			clear(r.seen)
			r.seenBytes = 0
		}
		r.seen[v] = h
		r.seenBytes += len(v)
	}
	return h
}

// IsSecret says whether the named header is redacted.
func (r *Redactor) IsSecret(name string) bool {
	for _, s := range r.byLen[min(len(name), len(r.byLen)-1)] {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// Headers replaces secret values in hs, in place, and returns hs. An
// Authorization keeps its scheme word ("Bearer redacted:..."): replay puts
// a live token after it. The hash is of the whole value, as the session's.
func (r *Redactor) Headers(hs []trace.Header) []trace.Header {
	for i := range hs {
		if r.IsSecret(hs[i].Name) {
			hs[i].Value = Scheme(hs[i].Name, hs[i].Value) + Prefix + r.Hash(hs[i].Value)
		}
	}
	return hs
}

// Scheme is the scheme word of an Authorization or Proxy-Authorization
// value with the space after it ("Bearer "), or "": the one part of a
// credential that is no secret.
func Scheme(name, value string) string {
	if !strings.EqualFold(name, "Authorization") && !strings.EqualFold(name, "Proxy-Authorization") {
		return ""
	}
	scheme, _, ok := strings.Cut(value, " ")
	if !ok || scheme == "" || len(scheme) > 32 || strings.ContainsAny(scheme, "=,\"\t") {
		return ""
	}
	return scheme + " "
}
