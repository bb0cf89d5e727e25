package analyze

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/race"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// Shards merged give the report one file with all rows gives, whatever
// the order rows come in.
func TestMergingShardsEqualsOneFile(t *testing.T) {
	dir := t.TempDir()
	rows := resultstest.Differing(8000, 30, 2)
	one := filepath.Join(dir, "one", "all.parquet")
	os.MkdirAll(filepath.Dir(one), 0o700)
	resultstest.WriteResults(t, one, rows)
	shuffled := slices.Clone(rows)
	rand.New(rand.NewPCG(3, 3)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var shardFiles []string
	for s := range 4 {
		var part []results.Result
		for _, r := range shuffled {
			if r.Shard == int32(s) {
				part = append(part, r)
			}
		}
		p := filepath.Join(dir, "shards", "shard"+resultstest.Num(float64(s))+".parquet")
		os.MkdirAll(filepath.Dir(p), 0o700)
		resultstest.WriteResults(t, p, part)
		shardFiles = append(shardFiles, p)
	}
	outputs := func(inputs []string) map[string]string {
		out := t.TempDir()
		res, err := Run(Config{Inputs: inputs, Out: out, Formats: []string{"csv,json,junit,html"}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, f := range res.Files {
			b, _ := os.ReadFile(f)
			// The HTML's footer holds the time it was written.
			m[filepath.Base(f)] = resultstest.RegexpGenerated(string(b))
		}
		return m
	}
	a, b := outputs([]string{one}), outputs(shardFiles)
	if len(a) != 7 {
		t.Fatalf("%d outputs: %v", len(a), a)
	}
	for name, content := range a {
		if b[name] != content {
			t.Errorf("%s differs between one file and 4 shards", name)
		}
	}
}

// Past the names kept (2,000), the same files give the same outputs byte
// for byte whatever the cores: the names kept, the figures of each, the
// difference texts and the failures.
func TestSameOutputsOnAnyCores(t *testing.T) {
	if race.Enabled {
		// Each core's figures of 2,000 names are cleared memory the race
		// detector makes 10x slower (125 s); analysis's
		// TestManyNamesSameOutputsOnAnyCores runs the same under it.
		t.Skip("byte-compares outputs of 2,000+ names: runs without -race (scripts/test.sh runs this package again without it)")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	n := 40_000
	rows := resultstest.Differing(n, 30, 5)
	for i := range rows {
		// 3,000 names, some much busier than others.
		rows[i].Name = fmt.Sprintf("/api/n%d", int(3000*rng.Float64()*rng.Float64()))
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	resultstest.WriteGroups(t, a, rows[:n/2], n/12)
	resultstest.WriteGroups(t, b, rows[n/2:], n/12)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var first map[string][]byte
	for _, procs := range []int{1, 2, 8} {
		runtime.GOMAXPROCS(procs)
		res, err := Run(Config{Inputs: []string{b, a}, Out: t.TempDir(), Formats: []string{"csv", "json"}, NoDefaults: true})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]byte{}
		for _, f := range res.Files {
			got[filepath.Base(f)] = resultstest.ReadFile(t, f)
		}
		if first == nil {
			if len(got) != 5 || res.Report.Name(analysis.OtherName) == nil {
				t.Fatalf("outputs %v, names folded: %v", slices.Sorted(maps.Keys(got)), res.Report.Name(analysis.OtherName) != nil)
			}
			first = got
			continue
		}
		for name, content := range first {
			if !bytes.Equal(got[name], content) {
				t.Errorf("GOMAXPROCS=%d: %s differs from GOMAXPROCS=1's", procs, name)
			}
		}
	}
}
