package trace

// Signature is what replay compares of an answer with the recorded one
// (package signature makes it; its status is the row's Status): no
// value, only the answer's media type, its JSON shape and keyed hashes.
type Signature struct {
	// Type is the media type of Content-Type, lower case, without
	// parameters ("application/json"); "" when none.
	Type string `parquet:"type,dict"`
	// Kind is "json", "other" (not JSON), "empty" (no body), "invalid"
	// (says or looks like JSON and does not parse), "unknown" (not looked
	// into: the body was not kept, or could not be decoded), or "" in
	// traces recorded before signatures.
	Kind string `parquet:"kind,dict"`
	// Leaves are a JSON answer's key paths, sorted by Path.
	Leaves []Leaf `parquet:"leaves,list"`
	// Class is the decoded body's length class: "0", "<100", "<1K",
	// "<10K", "<100K", "<1M", ">=1M".
	Class string `parquet:"class,dict"`
	// Hash is the keyed hash of a small body that is not JSON, else 0.
	Hash int64 `parquet:"hash"`
	// Cut says the scan stopped at a bound, or the body was kept in
	// part: only what came before is known.
	Cut bool `parquet:"cut"`
}

// Leaf is one key path of a JSON answer: "$.items[].owner" (array
// elements folded into one path), the JSON types seen there ("null|string")
// and a keyed hash of its values in document order (0 for containers).
// Volatile says a value there looks like a time, an id or a token, by its
// form or by its key's name: such values differ from one server to the
// next even when nothing is wrong, so they are never compared.
type Leaf struct {
	Path     string `parquet:"path,dict"`
	Types    string `parquet:"types,dict"`
	Hash     int64  `parquet:"hash"`
	Volatile bool   `parquet:"volatile"`
}

// MetaSignatureKey is the trace's metadata key holding the key of its
// signatures' hashes (hex): replay hashes live answers with it.
const MetaSignatureKey = "replaykit.signature_key"
