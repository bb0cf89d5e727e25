package session

import (
	"slices"
	"testing"
)

func TestLoadSample(t *testing.T) {
	sessions, st, err := Load("../testdata/sample/*.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 1 || st.Requests < 300 || st.Sessions != len(sessions) || st.Reads+st.Writes != st.Requests {
		t.Errorf("stats %+v", st)
	}
	total := 0
	for i, s := range sessions {
		total += len(s.Requests)
		for j := 1; j < len(s.Requests); j++ {
			if s.Requests[j].TS.Before(s.Requests[j-1].TS) {
				t.Fatalf("session %s out of order at %d", s.Key, j)
			}
		}
		for _, r := range s.Requests {
			if r.Session != s.Key || r.Method == "" || r.Path == "" || r.Kind == "" {
				t.Fatalf("bad request %+v", r)
			}
		}
		if i > 0 && s.Requests[0].TS.Before(sessions[i-1].Requests[0].TS) {
			t.Fatalf("sessions not in order of first request")
		}
	}
	if total != st.Requests {
		t.Errorf("%d requests in sessions, %d read", total, st.Requests)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, _, err := Load("../testdata/nothing/*.parquet"); err == nil {
		t.Error("no files: no error")
	}
	if _, _, err := Load("../testdata/pcap/go-curl.pcap"); err == nil {
		t.Error("a pcap as a trace: no error")
	}
}

// Same seed, same order; another seed, another; each user's sequence is
// fixed whatever the others do.
func TestOrder(t *testing.T) {
	a, b, c := Order(50, 1), Order(50, 1), Order(50, 2)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("order must depend on the seed alone")
	}
	sorted := slices.Clone(a)
	slices.Sort(sorted)
	for i, v := range sorted {
		if v != i {
			t.Fatal("not a permutation")
		}
	}
	// Users 0..9 over their first 5 sessions take each of the 50 once.
	seen := map[int]bool{}
	for v := 0; v < 10; v++ {
		for k := 0; k < 5; k++ {
			seen[Nth(a, 10, v, k)] = true
		}
	}
	if len(seen) != 50 {
		t.Errorf("%d distinct sessions taken", len(seen))
	}
}
