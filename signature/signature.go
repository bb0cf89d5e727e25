// Package signature tells whether a replayed answer is the answer
// production gave: it makes a compact signature of each answer, and
// compares a live answer's signature with its recorded one under what
// all the recorded answers of its route say is noise.
//
// A signature is an answer's media type, what its body is (JSON, other,
// empty, broken), its length class, and for JSON the key paths of the
// document ("$.items[].owner"), the JSON types seen at each and a keyed
// hash of the values found there; for a small body that is not JSON, a
// keyed hash of the whole.
//
// What is written to the trace holds no value of the answer: only paths,
// types, length classes and hashes. Object keys are part of the paths,
// as written, so an answer that uses data as keys ({"alice@example.com":
// ...}) puts that data in the trace. The hashes are keyed with a Key kept
// in the trace's metadata, so that replay can hash live answers the same
// way. That makes them no secret from whoever holds the trace: anyone
// with the trace and its key can confirm a guessed value (is the "email"
// here alice@example.com?) by hashing the guess and comparing. Treat a
// trace with signatures as you would the answers themselves when the
// values could be guessed.
package signature

import (
	"strings"

	"github.com/replaykit/replaykit/trace"
)

// Leaf and Signature are the trace's (trace.Leaf, trace.Signature), which
// writes them: one path of a JSON answer, and what is compared of an
// answer (its status is compared separately).
type (
	Leaf      = trace.Leaf
	Signature = trace.Signature
)

// The values of Signature.Kind.
const (
	KindJSON = "json"
	// KindOther is a body that is not JSON.
	KindOther = "other"
	// KindEmpty is no body.
	KindEmpty = "empty"
	// KindInvalid is a body that says it is JSON (by its media type) or
	// looks like it (a { or [ first, no media type or text/plain) and
	// does not parse.
	KindInvalid = "invalid"
	// KindUnknown is a body not looked at: not kept, or in a content
	// coding that could not be decoded.
	KindUnknown = "unknown"
)

// Bounds of the work spent on one answer.
const (
	// MaxLeaves is the number of distinct paths kept.
	MaxLeaves = 512
	// MaxDepth is the number of nested objects and arrays looked into.
	MaxDepth = 64
	// MaxBody is the number of decoded bytes looked at; a longer body is
	// looked at as if cut there.
	MaxBody = 1 << 20
	// MaxHashed is the longest body that is not JSON to be hashed whole.
	MaxHashed = 64 << 10
)

// Of is the signature of an answer: its headers (Content-Type, and
// Content-Encoding: gzip, deflate, br, zstd, removed in the order listed)
// and its body as sent, still content-coded. cut says the body is only
// its start (recording keeps about the first MiB); an empty body with cut
// set is one that was not kept at all. Of is safe for concurrent use.
func Of(k Key, headers []trace.Header, body []byte, cut bool) Signature {
	ct, _ := trace.HeaderValue(headers, "Content-Type")
	sig := Signature{Type: mediaType(ct), Cut: cut}
	if len(body) == 0 {
		if cut {
			sig.Kind = KindUnknown
			return sig
		}
		sig.Kind, sig.Class = KindEmpty, "0"
		return sig
	}

	s := scanners.Get().(*scanner)
	defer func() {
		s.done()
		scanners.Put(s)
	}()
	b, over, ok := s.decode(headers, body, cut)
	switch {
	case !ok:
		sig.Kind = KindUnknown
		return sig
	case len(b) == 0 && cut:
		sig.Kind = KindUnknown // nothing of it decoded
		return sig
	case len(b) == 0:
		sig.Kind, sig.Class = KindEmpty, "0"
		return sig
	}
	cut = cut || over
	sig.Cut = cut
	sig.Class = lengthClass(len(b), over)

	if !looksJSON(sig.Type, b) {
		sig.Kind = KindOther
		if !cut && len(b) <= MaxHashed {
			k0, k1 := k.halves()
			sig.Hash = final(sip(k0, k1, 'r', b), 1)
		}
		return sig
	}
	if s.scan(k, b, cut) != nil {
		sig.Kind = KindInvalid
		return sig
	}
	sig.Kind = KindJSON
	sig.Cut = cut || s.full
	sig.Leaves = s.leaves()
	return sig
}

// mediaType is a Content-Type without its parameters, lower case.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// looksJSON says whether a body is to be read as JSON: by its media
// type, or, when the type says nothing (none, text/plain), by its first
// byte that is not white space.
func looksJSON(mediaType string, b []byte) bool {
	switch {
	case mediaType == "application/json", mediaType == "text/json", strings.HasSuffix(mediaType, "+json"):
		return true
	case mediaType != "" && mediaType != "text/plain":
		return false
	}
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// lengthClass is the Class of a decoded body of n bytes, or of one longer
// than MaxBody.
func lengthClass(n int, over bool) string {
	switch {
	case over || n >= 1<<20:
		return ">=1M"
	case n == 0:
		return "0"
	case n < 100:
		return "<100"
	case n < 1<<10:
		return "<1K"
	case n < 10<<10:
		return "<10K"
	case n < 100<<10:
		return "<100K"
	}
	return "<1M"
}
