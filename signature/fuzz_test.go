package signature

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/correlate"
	"github.com/replaykit/replaykit/trace"
)

// hostile are bodies from the wire at their worst.
func hostile(t testing.TB) [][]byte {
	orders := fixture(t, "orders.json")
	gz := gzipped(t, orders)
	return [][]byte{
		orders,
		fixture(t, "metrics.json"),
		fixture(t, "login.html"),
		bytes.Repeat([]byte("["), 10000),
		[]byte("[1" + strings.Repeat("0", 1<<20) + "]"),
		[]byte("{\"\xff\xfe\":1,\"a\xc3\":{\"\xed\xa0\x80\":[\"\xff\"]}}"),
		[]byte(`{"a":"\ud800\udc00\ud800","b":"\u00e9\\\"\/\b\f\n\r\t"}`),
		gz[:len(gz)/2],
		gz[:10],
		[]byte(""),
		[]byte("null"),
		[]byte(`"top"`),
		[]byte(`-0.5e-7`),
		[]byte(`[[],{},[{}],{"":[]}]`),
		[]byte(`{"a":1,"a":2}`),
		[]byte("\xef\xbb\xbf{}"),
		[]byte(`{"a":tru`),
		[]byte(`{"a":"\u12`),
	}
}

var fuzzTypes = []string{"application/json", "", "text/plain", "text/html", "application/problem+json"}
var fuzzCodings = []string{"", "gzip", "deflate", "br", "zstd", "gzip, br"}

// fuzzAnswer makes an answer of body and a choice of media type, coding
// and cut: codings are applied to the body or, for odd choices, only
// claimed (garbage for the decoder). whole says the answer decodes to
// body. Big bodies are not coded: it would take the fuzzer's time.
func fuzzAnswer(t testing.TB, body []byte, choice uint16) (hs []trace.Header, coded []byte, cut, whole bool) {
	typ := fuzzTypes[int(choice)%len(fuzzTypes)]
	coding := fuzzCodings[int(choice>>3)%len(fuzzCodings)]
	cut = choice&(1<<6) != 0
	hs = []trace.Header{{Name: "Content-Type", Value: typ}}
	if coding == "" {
		return hs, body, cut, !cut
	}
	hs = append(hs, trace.Header{Name: "Content-Encoding", Value: coding})
	if choice&(1<<7) != 0 || len(body) > 64<<10 {
		return hs, body, cut, false
	}
	coded, err := correlate.Encode(hs, body)
	if err != nil {
		t.Fatal(err)
	}
	return hs, coded, cut, !cut
}

func FuzzOf(f *testing.F) {
	for i, b := range hostile(f) {
		f.Add(b, uint16(i))
		f.Add(b, uint16(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, choice uint16) {
		hs, coded, cut, whole := fuzzAnswer(t, body, choice)
		s := Of(testKey, hs, coded, cut)
		if again := Of(testKey, hs, coded, cut); !reflect.DeepEqual(s, again) {
			t.Fatalf("Of is not deterministic:\n%+v\n%+v", s, again)
		}
		switch s.Kind {
		case KindJSON, KindOther, KindEmpty, KindInvalid:
			if !slices.Contains(classes, s.Class) {
				t.Fatalf("class %q", s.Class)
			}
		case KindUnknown:
		default:
			t.Fatalf("kind %q", s.Kind)
		}
		// JSON has leaves, but a cut one may end before its first (`"ab`).
		if len(s.Leaves) > MaxLeaves || (len(s.Leaves) > 0 && s.Kind != KindJSON) || (len(s.Leaves) == 0 && s.Kind == KindJSON && !s.Cut) {
			t.Fatalf("kind %s with %d leaves", s.Kind, len(s.Leaves))
		}
		for i, l := range s.Leaves {
			if i > 0 && s.Leaves[i-1].Path >= l.Path {
				t.Fatalf("leaves not sorted, or twice: %q then %q", s.Leaves[i-1].Path, l.Path)
			}
			if !strings.HasPrefix(l.Path, "$") || len(l.Path) > maxPath {
				t.Fatalf("path %q", l.Path)
			}
			if set, ok := typeSet(l.Types); !ok || set == 0 || typeNames[set] != l.Types {
				t.Fatalf("types %q", l.Types)
			}
		}
		// The scanner agrees with encoding/json on what is JSON.
		if whole && (s.Type == "application/json" || s.Type == "application/problem+json") && len(body) > 0 {
			valid := json.Valid(body)
			if valid && s.Kind != KindJSON {
				t.Fatalf("encoding/json takes it, Of says %s", s.Kind)
			}
			if !valid && s.Kind == KindJSON && !s.Cut {
				t.Fatalf("encoding/json refuses it, Of says json")
			}
		}
	})
}

func FuzzDiff(f *testing.F) {
	h := hostile(f)
	for i := range h {
		f.Add(h[i], h[(i+1)%len(h)], uint16(i), uint8(i))
	}
	f.Add([]byte(`{"id":1,"status":"ok"}`), []byte(`{"id":2,"status":"ok"}`), uint16(0), uint8(MinStable))
	f.Fuzz(func(t *testing.T, a, b []byte, choice uint16, times uint8) {
		hsA, codedA, cutA, _ := fuzzAnswer(t, a, choice)
		hsB, codedB, cutB, _ := fuzzAnswer(t, b, choice>>8|choice<<8)
		sa, sb := Of(testKey, hsA, codedA, cutA), Of(testKey, hsB, codedB, cutB)
		var m Model
		for range 1 + int(times)%(2*MinStable) {
			m.Learn(200, sa)
		}
		m.Learn(200, sb)
		if d := m.Diff(200, sa, 200, sa); d != "" {
			t.Fatalf("an answer against itself: %q", d)
		}
		if d := m.Diff(200, sb, 200, sb); d != "" {
			t.Fatalf("an answer against itself: %q", d)
		}
		m.Diff(200, sa, 200, sb)
		m.Diff(200, sb, 200, sa)
		if bytes.Equal(a, b) && choice>>8 == choice&0xff {
			if d := m.Diff(200, sa, 200, sb); d != "" {
				t.Fatalf("the same answer twice: %q", d)
			}
		}
	})
}
