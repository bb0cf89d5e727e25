package scenario

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// The seed's scenario table, by long and short name.
func TestLookup(t *testing.T) {
	tests := []struct {
		name, want string
		users      int
		d          time.Duration
	}{
		{"light_load", "light_load", 10, 5 * time.Minute},
		{"normal", "normal_load", 50, 10 * time.Minute},
		{"high", "high_load", 100, 10 * time.Minute},
		{"spike", "spike_test", 200, 5 * time.Minute},
		{"read_heavy", "read_heavy", 80, 8 * time.Minute},
		{"write", "write_heavy", 30, 10 * time.Minute},
		{"rec", "recorded", 0, 0},
	}
	for _, tt := range tests {
		s, err := Lookup(tt.name)
		if err != nil || s.Name != tt.want || s.Users != tt.users || s.Duration != tt.d {
			t.Errorf("Lookup(%q) = %+v, %v", tt.name, s, err)
		}
	}
	if _, err := Lookup("soak"); err == nil || !strings.Contains(err.Error(), "spike_test") {
		t.Errorf("unknown scenario: %v", err)
	}
	if len(All()) != 7 || len(Seed()) != 6 || !All()[6].Timeline() {
		t.Errorf("%d scenarios, %d of the seed", len(All()), len(Seed()))
	}
}

func TestRamp(t *testing.T) {
	r := Ramp{Peak: 10, Over: 10 * time.Second}
	for _, c := range []struct {
		t    time.Duration
		want int
	}{{0, 1}, {time.Second, 1}, {5 * time.Second, 5}, {9500 * time.Millisecond, 10}, {10 * time.Second, 10}, {time.Hour, 10}} {
		if got := r.Users(c.t); got != c.want {
			t.Errorf("ramp at %v: %d users, want %d", c.t, got, c.want)
		}
	}
	if (Ramp{Peak: 7}).Users(0) != 7 {
		t.Error("no ramp: all users at once")
	}
}

// spike_test: 20 users for a minute, 200 within seconds, hold, back to 20
// for the last minute.
func TestSpike(t *testing.T) {
	s := NewSpike(200, 5*time.Minute)
	for _, c := range []struct {
		t    time.Duration
		want int
	}{
		{0, 20}, {59 * time.Second, 20}, {62500 * time.Millisecond, 110}, {65 * time.Second, 200},
		{3 * time.Minute, 200}, {3*time.Minute + 57500*time.Millisecond, 110}, {4 * time.Minute, 20}, {4*time.Minute + 30*time.Second, 20}, {5 * time.Minute, 20},
	} {
		if got := s.Users(c.t); got != c.want {
			t.Errorf("spike at %v: %d users, want %d", c.t, got, c.want)
		}
	}
	prev := 0
	for ts := time.Duration(0); ts <= 70*time.Second; ts += 100 * time.Millisecond {
		if u := s.Users(ts); u < prev {
			t.Fatalf("spike falls at %v while rising", ts)
		} else {
			prev = u
		}
	}
	short := NewSpike(50, time.Minute) // a --duration 1m demo keeps the shape
	if short.Users(5*time.Second) != 5 || short.Users(30*time.Second) != 50 || short.Users(55*time.Second) != 5 {
		t.Errorf("1m spike: %d %d %d", short.Users(5*time.Second), short.Users(30*time.Second), short.Users(55*time.Second))
	}
}

func TestPacing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rec, _ := NewPacing("recorded", 2)
	if got := rec.Wait(3*time.Second, rng); got != 1500*time.Millisecond {
		t.Errorf("recorded at speed 2: %v", got)
	}
	if got := rec.Wait(-time.Second, rng); got != 0 {
		t.Errorf("negative gap: %v", got)
	}
	for _, c := range []struct {
		name     string
		min, max time.Duration
	}{{"normal", time.Second, 3 * time.Second}, {"high", 100 * time.Millisecond, 500 * time.Millisecond}, {"stress", 0, 100 * time.Millisecond}, {"none", 0, 0}} {
		p, err := NewPacing(c.name, 1)
		if err != nil {
			t.Fatal(err)
		}
		var sum time.Duration
		for i := 0; i < 10000; i++ {
			w := p.Wait(0, rng)
			if w < c.min || w > c.max {
				t.Fatalf("%s: %v outside [%v, %v]", c.name, w, c.min, c.max)
			}
			sum += w
		}
		if mid := (c.min + c.max) / 2; c.max > 0 && (sum/10000 < mid*9/10 || sum/10000 > mid*11/10) {
			t.Errorf("%s: mean %v, want about %v", c.name, sum/10000, mid)
		}
	}
	if _, err := NewPacing("fast", 1); err == nil {
		t.Error("unknown pacing accepted")
	}
	if _, err := NewPacing("recorded", 0); err == nil {
		t.Error("speed 0 accepted")
	}
}

// The mixes over the sample trace: read_heavy sends no write, write_heavy
// at least 80% writes at every moment.
func TestMixOnSampleTrace(t *testing.T) {
	rows, err := tracefile.ReadAll("../testdata/sample/demo.parquet")
	if err != nil {
		t.Fatal(err)
	}
	var nw, nr int
	for _, e := range rows {
		if e.Kind == trace.KindWrite {
			nw++
		} else {
			nr++
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	read := MixRead.New(nw, nr, rng)
	write := MixWrite.New(nw, nr, rng)
	all := MixRecorded.New(nw, nr, rng)
	var reads, writes, sentR, sentW, sentAll int
	for _, e := range rows {
		if read.Keep(e.Kind) {
			if e.Kind != trace.KindRead {
				t.Fatalf("read_heavy sent a %s", e.Method)
			}
			reads++
		}
		if write.Keep(e.Kind) {
			if e.Kind == trace.KindWrite {
				sentW++
			} else {
				sentR++
			}
			if sentW*10 < (sentW+sentR)*8 {
				t.Fatalf("write_heavy at %d writes, %d reads: under 80%%", sentW, sentR)
			}
		}
		if all.Keep(e.Kind) {
			sentAll++
		}
		if e.Kind == trace.KindWrite {
			writes++
		}
	}
	if reads == 0 || sentW != writes || sentR == 0 || sentAll != len(rows) {
		t.Errorf("reads %d, writes %d of %d (reads kept %d), all %d of %d", reads, sentW, writes, sentR, sentAll, len(rows))
	}
}
