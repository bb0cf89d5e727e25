package analyze

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

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
