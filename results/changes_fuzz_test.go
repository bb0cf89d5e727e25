package results

import "testing"

// FuzzDecodeChanges: a results footer's changes, whatever a file holds,
// decode or fail; what decodes encodes back to the same changes.
func FuzzDecodeChanges(f *testing.F) {
	f.Add(`[{"at":"2026-12-02T04:00:00Z","what":"users","value":20}]`)
	f.Add(`[{"at":"2026-12-02T04:00:00.123456789Z","what":"rate","value":12.5},{"at":"x"}]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := DecodeChanges(s)
		if err != nil {
			return
		}
		again, err := DecodeChanges(EncodeChanges(cs))
		if err != nil || len(again) != len(cs) {
			t.Fatalf("%q: decoded %+v, then %+v (%v)", s, cs, again, err)
		}
		for i := range cs {
			if !again[i].At.Equal(cs[i].At) || again[i].What != cs[i].What || (again[i].Value != cs[i].Value && cs[i].Value == cs[i].Value) {
				t.Errorf("%q: change %d %+v became %+v", s, i, cs[i], again[i])
			}
		}
	})
}
