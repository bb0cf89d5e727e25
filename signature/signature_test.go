package signature

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/correlate"
	"github.com/replaykit/replaykit/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testKey is fixed so that the golden hashes stay put.
var testKey = Key{0x52, 0x65, 0x70, 0x6c, 0x61, 0x79, 0x4b, 0x69, 0x74, 0x20, 0x74, 0x65, 0x73, 0x74, 0x73, 0x21}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func headers(kv ...string) []trace.Header {
	var hs []trace.Header
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, trace.Header{Name: kv[i], Value: kv[i+1]})
	}
	return hs
}

var jsonType = headers("Content-Type", "application/json; charset=utf-8")

// encode content-codes a body as a server would.
func encode(t testing.TB, coding string, body []byte) []byte {
	t.Helper()
	b, err := correlate.Encode(headers("Content-Encoding", coding), body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(t testing.TB, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(body)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// shape is a signature's paths and types, one a line, for comparing.
func shape(s Signature) string {
	var b strings.Builder
	for _, l := range s.Leaves {
		fmt.Fprintf(&b, "%s %s\n", l.Path, l.Types)
	}
	return b.String()
}

func leaf(s Signature, path string) (Leaf, bool) {
	for _, l := range s.Leaves {
		if l.Path == path {
			return l, true
		}
	}
	return Leaf{}, false
}

// The signature of a recorded JSON answer, hashes included: the hash is
// part of the trace format, a change here breaks replay of older traces.
func TestOfGolden(t *testing.T) {
	s := Of(testKey, jsonType, fixture(t, "orders.json"), false)
	var b strings.Builder
	fmt.Fprintf(&b, "type=%s kind=%s class=%s hash=%d cut=%v\n", s.Type, s.Kind, s.Class, s.Hash, s.Cut)
	for _, l := range s.Leaves {
		fmt.Fprintf(&b, "%s\t%s\t%d\n", l.Path, l.Types, l.Hash)
	}
	golden := filepath.Join("testdata", "orders.sig")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := string(fixture(t, "orders.sig")); b.String() != want {
		t.Errorf("signature of orders.json:\n%s\nwant (go test -update to accept):\n%s", b.String(), want)
	}
}

func TestOfKinds(t *testing.T) {
	orders := fixture(t, "orders.json")
	html := fixture(t, "login.html")
	for _, c := range []struct {
		name    string
		headers []trace.Header
		body    []byte
		cut     bool
		kind    string
		typ     string
		class   string
		isCut   bool
	}{
		{"json", jsonType, orders, false, KindJSON, "application/json", "<1K", false},
		{"json with no type", nil, orders, false, KindJSON, "", "<1K", false},
		{"json as text/plain", headers("Content-Type", "text/plain"), orders, false, KindJSON, "text/plain", "<1K", false},
		{"problem+json", headers("content-type", "Application/Problem+JSON"), fixture(t, "order-not-found.json"), false, KindJSON, "application/problem+json", "<1K", false},
		{"text/json", headers("Content-Type", "text/json"), []byte(`[1,2]`), false, KindJSON, "text/json", "<100", false},
		{"html", headers("Content-Type", "text/html; charset=utf-8"), html, false, KindOther, "text/html", "<1K", false},
		{"html said to be json", jsonType, html, false, KindInvalid, "application/json", "<1K", false},
		{"braces as text/plain", headers("Content-Type", "text/plain"), []byte("{not json}"), false, KindInvalid, "text/plain", "<100", false},
		{"text that is not json", headers("Content-Type", "text/plain"), []byte("OK"), false, KindOther, "text/plain", "<100", false},
		{"json as text/html is html", headers("Content-Type", "text/html"), orders, false, KindOther, "text/html", "<1K", false},
		{"broken json", jsonType, orders[:300], false, KindInvalid, "application/json", "<1K", false},
		{"json cut at recording", jsonType, orders[:300], true, KindJSON, "application/json", "<1K", true},
		{"trailing garbage", jsonType, []byte(`{"a":1} x`), false, KindInvalid, "application/json", "<100", false},
		{"trailing garbage, cut", jsonType, []byte(`{"a":1} x`), true, KindInvalid, "application/json", "<100", true},
		{"two values", jsonType, []byte(`{} {}`), false, KindInvalid, "application/json", "<100", false},
		{"empty", jsonType, nil, false, KindEmpty, "application/json", "0", false},
		{"empty, no type", nil, []byte{}, false, KindEmpty, "", "0", false},
		{"not kept", jsonType, nil, true, KindUnknown, "application/json", "", true},
		{"only spaces as json", jsonType, []byte("  \n"), false, KindInvalid, "application/json", "<100", false},
		{"null", jsonType, []byte("null"), false, KindJSON, "application/json", "<100", false},
		{"top-level string", jsonType, []byte(`"hi"`), false, KindJSON, "application/json", "<100", false},
		{"top-level number", jsonType, []byte(` -1.5e+3 `), false, KindJSON, "application/json", "<100", false},
		{"bad number", jsonType, []byte(`01`), false, KindInvalid, "application/json", "<100", false},
		{"bad literal", jsonType, []byte(`[nul]`), false, KindInvalid, "application/json", "<100", false},
		{"control character in a string", jsonType, []byte("[\"a\nb\"]"), false, KindInvalid, "application/json", "<100", false},
		{"bad escape", jsonType, []byte(`["\x"]`), false, KindInvalid, "application/json", "<100", false},
		{"gzip", append(jsonType, headers("Content-Encoding", "gzip")...), gzipped(t, orders), false, KindJSON, "application/json", "<1K", false},
		{"gzip of nothing", append(jsonType, headers("Content-Encoding", "gzip")...), gzipped(t, nil), false, KindEmpty, "application/json", "0", false},
		{"truncated gzip, cut at recording", append(jsonType, headers("Content-Encoding", "gzip")...), gzipped(t, orders)[:200], true, KindJSON, "application/json", "<1K", true},
		{"truncated gzip", append(jsonType, headers("Content-Encoding", "gzip")...), gzipped(t, orders)[:200], false, KindInvalid, "application/json", "<1K", false},
		{"gzip header only, cut", append(jsonType, headers("Content-Encoding", "gzip")...), gzipped(t, orders)[:10], true, KindUnknown, "application/json", "", true},
		{"not gzip", append(jsonType, headers("Content-Encoding", "gzip")...), orders, false, KindUnknown, "application/json", "", false},
		{"unknown coding", append(jsonType, headers("Content-Encoding", "compress")...), orders, false, KindUnknown, "application/json", "", false},
		{"too many codings", append(jsonType, headers("Content-Encoding", "gzip, gzip, gzip, gzip")...), encode(t, "gzip, gzip, gzip, gzip", orders), false, KindUnknown, "application/json", "", false},
		{"identity", append(jsonType, headers("Content-Encoding", "identity")...), orders, false, KindJSON, "application/json", "<1K", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Of(testKey, c.headers, c.body, c.cut)
			if s.Kind != c.kind || s.Type != c.typ || s.Class != c.class || s.Cut != c.isCut {
				t.Errorf("Of = kind %q type %q class %q cut %v; want %q %q %q %v", s.Kind, s.Type, s.Class, s.Cut, c.kind, c.typ, c.class, c.isCut)
			}
			if len(s.Leaves) > 0 && s.Kind != KindJSON || len(s.Leaves) == 0 && s.Kind == KindJSON && !s.Cut {
				t.Errorf("kind %s with %d leaves", s.Kind, len(s.Leaves))
			}
			if (s.Hash != 0) != (s.Kind == KindOther) {
				t.Errorf("kind %s with hash %d", s.Kind, s.Hash)
			}
		})
	}
}

// Every coding the recorder may see gives the signature of the plain body.
func TestOfCodings(t *testing.T) {
	orders := fixture(t, "orders.json")
	want := Of(testKey, jsonType, orders, false)
	for _, coding := range []string{"gzip", "x-gzip", "deflate", "br", "zstd", "gzip, br", "br,zstd", "GZIP", "identity, gzip", "gzip, identity, br", "zstd, gzip, br"} {
		body := orders
		if coding != "x-gzip" && coding != "GZIP" {
			body = encode(t, coding, orders)
		} else {
			body = gzipped(t, orders)
		}
		got := Of(testKey, append(jsonType, headers("Content-Encoding", coding)...), body, false)
		if got.Kind != KindJSON || shape(got) != shape(want) || fmt.Sprint(got.Leaves) != fmt.Sprint(want.Leaves) {
			t.Errorf("%s: kind %s, leaves\n%s\nwant\n%s", coding, got.Kind, shape(got), shape(want))
		}
	}
	// Raw deflate, as some servers send it.
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write(orders)
	w.Close()
	if got := Of(testKey, append(jsonType, headers("Content-Encoding", "deflate")...), buf.Bytes(), false); fmt.Sprint(got.Leaves) != fmt.Sprint(want.Leaves) {
		t.Errorf("raw deflate: kind %s, leaves\n%s", got.Kind, shape(got))
	}
}

func TestOfPaths(t *testing.T) {
	s := Of(testKey, jsonType, fixture(t, "metrics.json"), false)
	want := `$ object
$.errors array
$.hosts array
$.hosts[] string
$.p50_ms number
$.p99_ms number
$.service string
$.tags object
$.tags.canary bool
$.tags.region string
$.window object
$.window.from number
$.window.to number
$["weird keys"] object
$["weird keys"][""] number
$["weird keys"]["9lives"] number
$["weird keys"]["a b"] number
$["weird keys"]["x\"y"] number
$["weird keys"]["é"] number
`
	if got := shape(s); got != want {
		t.Errorf("paths:\n%s\nwant:\n%s", got, want)
	}

	// Array elements fold, with all their types; nested arrays too.
	s = Of(testKey, nil, []byte(`[{"id":1,"tag":null},{"id":"2","tag":"x"},[[true]],7]`), false)
	want = `$ array
$[] array|number|object
$[].id number|string
$[].tag null|string
$[][] array
$[][][] bool
`
	if got := shape(s); got != want {
		t.Errorf("folded paths:\n%s\nwant:\n%s", got, want)
	}
	if l, _ := leaf(s, "$"); l.Hash != 0 {
		t.Errorf("hash of a container-only path is %d, want 0", l.Hash)
	}

	// Keys with escapes, control characters and bytes that are not UTF-8.
	s = Of(testKey, jsonType, []byte("{\"\\u0041\":1,\"t\\tab\":2,\"\\ud83d\\ude00\":3,\"\xff\":4,\"a\\\\b\":5,\"\\ud800\":6}"), false)
	want = `$ object
$.A number
$["\ufffd"] number
$["a\\b"] number
$["t\tab"] number
$["�"] number
$["😀"] number
`
	if got := shape(s); got != want {
		t.Errorf("escaped keys:\n%s\nwant:\n%s", got, want)
	}
}

func TestOfHashes(t *testing.T) {
	hash := func(body, path string) int64 {
		t.Helper()
		s := Of(testKey, jsonType, []byte(body), false)
		l, ok := leaf(s, path)
		if !ok {
			t.Fatalf("%s: no %s in %v", body, path, s.Leaves)
		}
		return l.Hash
	}
	same := [][2]string{
		{`{"a":"A"}`, `{"a":"\u0041"}`},
		{`{"a":"x/y"}`, `{"a":"x\/y"}`},
		{`{"a":1}`, `{ "a" : 1 }`},
		{`[{"a":1},{"a":2}]`, `[{"a":1,"b":0},{"b":9,"a":2}]`},
	}
	for _, c := range same {
		path := "$.a"
		if c[0][0] == '[' {
			path = "$[].a"
		}
		if hash(c[0], path) != hash(c[1], path) {
			t.Errorf("%s and %s hash apart at %s", c[0], c[1], path)
		}
	}
	differ := [][2]string{
		{`{"a":1}`, `{"a":"1"}`},
		{`{"a":1}`, `{"a":1.0}`},
		{`{"a":true}`, `{"a":"true"}`},
		{`{"a":null}`, `{"a":"null"}`},
		{`{"a":"ok"}`, `{"a":"error"}`},
		{`{"a":[1,2]}`, `{"a":[2,1]}`},
		{`{"a":[1,1]}`, `{"a":[1]}`},
		{`{"a":["ab"]}`, `{"a":["a","b"]}`},
	}
	for _, c := range differ {
		path := "$.a"
		if strings.Contains(c[0], "[") {
			path = "$.a[]"
		}
		if hash(c[0], path) == hash(c[1], path) {
			t.Errorf("%s and %s hash alike at %s", c[0], c[1], path)
		}
	}
	other := Key{1}
	if Of(testKey, jsonType, []byte(`{"a":1}`), false).Leaves[1].Hash == Of(other, jsonType, []byte(`{"a":1}`), false).Leaves[1].Hash {
		t.Error("two keys give one hash")
	}
	a := Of(testKey, headers("Content-Type", "text/html"), []byte("<p>1</p>"), false)
	b := Of(testKey, headers("Content-Type", "text/html"), []byte("<p>2</p>"), false)
	if a.Hash == 0 || a.Hash == b.Hash {
		t.Errorf("body hashes %d and %d", a.Hash, b.Hash)
	}
}

// A body cut at recording gives the paths before the cut, and none that
// the cut left half written.
func TestOfCut(t *testing.T) {
	orders := fixture(t, "orders.json")
	full := Of(testKey, jsonType, orders, false)
	for n := 1; n < len(orders); n++ {
		s := Of(testKey, jsonType, orders[:n], true)
		if s.Kind != KindJSON || !s.Cut {
			t.Fatalf("cut at %d: kind %s cut %v", n, s.Kind, s.Cut)
		}
		for _, l := range s.Leaves {
			f, ok := leaf(full, l.Path)
			if !ok {
				t.Fatalf("cut at %d: path %s not in the whole body", n, l.Path)
			}
			if l.Types != f.Types && !strings.Contains(f.Types, l.Types) {
				t.Fatalf("cut at %d: %s has types %s, the whole body %s", n, l.Path, l.Types, f.Types)
			}
		}
	}
	// A number that reaches the cut may have lost digits; it is a
	// number all the same.
	s := Of(testKey, jsonType, []byte(`{"count":12`), true)
	if l, ok := leaf(s, "$.count"); !ok || l.Types != "number" {
		t.Errorf("a number at the cut: %v", s.Leaves)
	}
	// A cut string is not known at all.
	if s := Of(testKey, jsonType, []byte(`"ab`), true); s.Kind != KindJSON || len(s.Leaves) != 0 {
		t.Errorf("a cut string: kind %s, %v", s.Kind, s.Leaves)
	}
	// A whole body marked cut is still cut: the flag is the caller's word.
	if s := Of(testKey, jsonType, orders, true); !s.Cut || s.Kind != KindJSON || len(s.Leaves) != len(full.Leaves) {
		t.Errorf("whole body marked cut: kind %s cut %v, %d leaves", s.Kind, s.Cut, len(s.Leaves))
	}
}

func TestOfBounds(t *testing.T) {
	t.Run("depth", func(t *testing.T) {
		s := Of(testKey, jsonType, bytes.Repeat([]byte("["), 10000), false)
		if s.Kind != KindJSON || !s.Cut || len(s.Leaves) != MaxDepth {
			t.Errorf("10000 [: kind %s cut %v, %d leaves", s.Kind, s.Cut, len(s.Leaves))
		}
		ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
		if s := Of(testKey, jsonType, []byte(ok), false); s.Kind != KindJSON || s.Cut {
			t.Errorf("%d nested arrays: kind %s cut %v", MaxDepth, s.Kind, s.Cut)
		}
	})
	t.Run("leaves", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{")
		for i := range 2 * MaxLeaves {
			fmt.Fprintf(&b, `"k%d":%d,`, i, i)
		}
		b.WriteString(`"last":0}`)
		s := Of(testKey, jsonType, []byte(b.String()), false)
		if s.Kind != KindJSON || !s.Cut || len(s.Leaves) != MaxLeaves {
			t.Errorf("%d keys: kind %s cut %v, %d leaves", 2*MaxLeaves, s.Kind, s.Cut, len(s.Leaves))
		}
		// Many values on few paths are no bound.
		many := "[" + strings.Repeat(`{"id":1,"at":"2026-12-01"},`, 20000) + `{"id":2,"at":""}]`
		if s := Of(testKey, jsonType, []byte(many), false); s.Cut || len(s.Leaves) != 4 {
			t.Errorf("20000 elements: cut %v, %d leaves", s.Cut, len(s.Leaves))
		}
	})
	t.Run("body", func(t *testing.T) {
		big := []byte("[" + strings.Repeat(`"abcdefghij",`, MaxBody/13+100) + `""]`)
		s := Of(testKey, jsonType, big, false)
		if s.Kind != KindJSON || !s.Cut || s.Class != ">=1M" {
			t.Errorf("%d bytes: kind %s cut %v class %s", len(big), s.Kind, s.Cut, s.Class)
		}
		// A small gzip that decodes to far more than MaxBody: a bomb.
		zeros := gzipped(t, make([]byte, 8<<20))
		s = Of(testKey, headers("Content-Encoding", "gzip"), zeros, false)
		if s.Kind != KindOther || !s.Cut || s.Class != ">=1M" || s.Hash != 0 {
			t.Errorf("gzip bomb: kind %s cut %v class %s hash %d", s.Kind, s.Cut, s.Class, s.Hash)
		}
		// Two codings, the inner one's data past MaxBody though the body
		// is not: random bytes grow a little in gzip.
		random := make([]byte, MaxBody-100)
		rand.NewChaCha8([32]byte{}).Read(random)
		coded := encode(t, "gzip, br", random)
		s = Of(testKey, headers("Content-Encoding", "gzip, br"), coded, false)
		if s.Kind != KindOther || !s.Cut || s.Class != ">=1M" {
			t.Errorf("gzip, br of %d random bytes: kind %s cut %v class %s", len(random), s.Kind, s.Cut, s.Class)
		}
		s = Of(testKey, headers("Content-Type", "text/plain"), make([]byte, MaxHashed+1), false)
		if s.Kind != KindOther || s.Hash != 0 || s.Cut {
			t.Errorf("%d bytes of text: hash %d cut %v", MaxHashed+1, s.Hash, s.Cut)
		}
	})
	t.Run("path", func(t *testing.T) {
		long := strings.Repeat("k", maxPath)
		s := Of(testKey, jsonType, []byte(`{"a":1,"`+long+`":{"x":1,"y":2}}`), false)
		if s.Kind != KindJSON || !s.Cut || len(s.Leaves) != 2 {
			t.Errorf("a %d-byte key: kind %s cut %v, leaves %v", len(long), s.Kind, s.Cut, shape(s))
		}
	})
	t.Run("number", func(t *testing.T) {
		huge := []byte("[1" + strings.Repeat("0", MaxBody-3) + "]")
		s := Of(testKey, jsonType, huge, false)
		if s.Kind != KindJSON || s.Cut || shape(s) != "$ array\n$[] number\n" {
			t.Errorf("a %d-digit number: kind %s cut %v\n%s", len(huge)-2, s.Kind, s.Cut, shape(s))
		}
	})
}

// The same answer gives the same signature, on any goroutine, with the
// pooled scanners in any state.
func TestOfDeterministic(t *testing.T) {
	bodies := [][]byte{fixture(t, "orders.json"), fixture(t, "metrics.json"), fixture(t, "orders-later.json"), fixture(t, "order-not-found.json")}
	want := make([]string, len(bodies))
	for i, b := range bodies {
		want[i] = fmt.Sprint(Of(testKey, jsonType, b, false))
	}
	done := make(chan bool)
	for g := range 4 {
		go func() {
			defer func() { done <- true }()
			for n := range 200 {
				i := (g + n) % len(bodies)
				if got := fmt.Sprint(Of(testKey, jsonType, bodies[i], false)); got != want[i] {
					t.Errorf("signature %d changed:\n%s\nwant\n%s", i, got, want[i])
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
