package e2e

import (
	"bytes"
	"fmt"
	"github.com/replaykit/replaykit/internal/syncbuf"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replaykit/replaykit/results"
)

const sampleTrace = "../testdata/sample/demo.parquet"

// startDemo starts a fresh demo API (no latency, no rate limit) and
// returns its URL.
func startDemo(t *testing.T) string {
	t.Helper()
	var logs syncbuf.Buffer
	_, addr := start(t, &logs, nil, "demoapi", "--addr", "127.0.0.1:0", "--no-delay", "--rate", "1000000", "--burst", "1000000")
	url := "http://" + addr
	waitHTTP(t, url+"/health")
	return url
}

// replayShards runs n shard processes at once (n = 0: one unsharded run),
// all waiting for the same --start-at, and returns the results files.
func replayShards(t *testing.T, n int, out string, args ...string) []string {
	t.Helper()
	at := time.Now().Add(1500 * time.Millisecond).UTC().Truncate(time.Second).Add(time.Second)
	var wg sync.WaitGroup
	logs := make([]bytes.Buffer, max(n, 1))
	codes := make([]int, max(n, 1))
	for i := range max(n, 1) {
		a := append([]string{"--trace", sampleTrace, "--out", out, "--start-at", at.Format(time.RFC3339),
			"--no-default-thresholds", "--format", "json"}, args...)
		var env []string
		switch {
		case n == 0:
		case i == n-1:
			// The last shard finds its place as a Kubernetes Indexed Job
			// pod would: from the environment.
			env = []string{fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i), fmt.Sprintf("REPLAYKIT_SHARDS=%d", n)}
		default:
			a = append(a, "--shard", fmt.Sprintf("%d/%d", i, n))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = runCmd(t, &logs[i], append(env, "API_KEY=demo-key-alice"), "replay", a...)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("shard %d exit %d:\n%s\n%q", i, c, logs[i].String(), args)
		}
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.parquet"))
	if len(files) != max(n, 1) {
		t.Fatalf("%d results files for %d shards: %v", len(files), n, files)
	}
	return files
}

// unsent adds up the requests the files' runs could not send in time.
func unsent(t *testing.T, files []string) int {
	n := 0
	for _, path := range files {
		f, err := results.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := f.Meta(results.MetaUnsent); ok {
			k, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s: unsent %q", path, v)
			}
			n += k
		}
		f.Close()
	}
	return n
}

func readAll(t *testing.T, files []string) []results.Result {
	var rows []results.Result
	for _, f := range files {
		r, err := results.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	return rows
}

// Open model: 4 shards send exactly the requests of one unsharded run
// with the same seed, each at the same place in the schedule.
func TestShardsSendWhatOneRunSends(t *testing.T) {
	const rate = 150.0
	args := []string{"--rate", fmt.Sprint(rate), "--duration", "2s", "--seed", "7", "read_heavy"}
	dir := t.TempDir()
	oneFiles := replayShards(t, 0, filepath.Join(dir, "one"), append([]string{"--host", startDemo(t)}, args...)...)
	one := readAll(t, oneFiles)
	shardFiles := replayShards(t, 4, filepath.Join(dir, "shards"), append([]string{"--host", startDemo(t)}, args...)...)
	four := readAll(t, shardFiles)

	// Request i of the schedule -> the trace row it sent.
	schedule := func(rows []results.Result) map[int]int64 {
		start := rows[0].Scheduled
		for _, r := range rows {
			if r.Scheduled.Before(start) {
				start = r.Scheduled
			}
		}
		m := map[int]int64{}
		for _, r := range rows {
			i := int(math.Round(r.Scheduled.Sub(start).Seconds() * rate))
			if _, dup := m[i]; dup {
				t.Fatalf("request %d of the schedule sent twice", i)
			}
			m[i] = r.TraceID
		}
		return m
	}
	a, b := schedule(one), schedule(four)
	// A process that fell behind its schedule at the very end (a loaded
	// machine) does not send late: it counts what it could not send.
	unsentA, unsentB := unsent(t, oneFiles), unsent(t, shardFiles)
	if len(a)+unsentA != int(rate*2) || len(b)+unsentB != int(rate*2) || unsentA+unsentB > 20 {
		t.Fatalf("unsharded %d requests (%d not sent in time), 4 shards %d (%d): the schedule holds %d", len(a), unsentA, len(b), unsentB, int(rate*2))
	}
	for i, id := range a {
		if got, ok := b[i]; ok && got != id {
			t.Fatalf("request %d: unsharded sent trace row %d, the shards %d", i, id, got)
		}
	}
	shardOf := map[int32]int{}
	for _, r := range four {
		shardOf[r.Shard]++
		if r.Run != four[0].Run {
			t.Fatalf("shards of one run with different run ids: %s, %s", r.Run, four[0].Run)
		}
	}
	if len(shardOf) != 4 {
		t.Errorf("rows by shard: %v", shardOf)
	}

	// The report of the 4 files is the report of their rows in one file,
	// and has the unsharded run's requests, route by route.
	merged := filepath.Join(dir, "merged")
	os.MkdirAll(merged, 0o700)
	w, _ := results.Create(filepath.Join(merged, "all.parquet"), results.WriterOptions{})
	for i := range four {
		w.Write(&four[i])
	}
	w.Close()
	var logs bytes.Buffer
	if c := runCmd(t, &logs, nil, "analyze", filepath.Join(dir, "shards", "*.parquet"), "--out", filepath.Join(dir, "r1"), "--no-default-thresholds", "--format", "json,csv"); c != 0 {
		t.Fatalf("analyze shards: exit %d\n%s", c, logs.String())
	}
	if c := runCmd(t, &logs, nil, "analyze", filepath.Join(merged, "all.parquet"), "--out", filepath.Join(dir, "r2"), "--no-default-thresholds", "--format", "json,csv"); c != 0 {
		t.Fatalf("analyze one file: exit %d\n%s", c, logs.String())
	}
	for _, suffix := range []string{"_stats.csv", "_failures.csv", "_stats_history.csv"} {
		x, _ := os.ReadFile(filepath.Join(dir, "r1", four[0].Run+suffix))
		y, _ := os.ReadFile(filepath.Join(dir, "r2", four[0].Run+suffix))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s: 4 shard files and one file of their rows differ", suffix)
		}
	}
	// The same requests; not always the same answers: a value a request
	// carries from its session's earlier answer (correlate) is carried
	// when the same process sent that answer's request.
	count := func(rows []results.Result) map[string]int {
		m := map[string]int{}
		for _, r := range rows {
			m[r.Method+" "+r.Name]++
		}
		return m
	}
	ca, cb := count(one), count(four)
	for k, n := range ca {
		if cb[k] != n {
			t.Errorf("%s: unsharded %d, shards %d", k, n, cb[k])
		}
	}

	// A missing shard is said, and fails.
	logs.Reset()
	c := runCmd(t, &logs, nil, "analyze", shardFiles[0], shardFiles[1], shardFiles[3], "--out", filepath.Join(dir, "r3"), "--no-default-thresholds")
	if c != 1 || !strings.Contains(logs.String(), "shard 2 of 4 missing") {
		t.Errorf("3 of 4 shards: exit %d\n%s", c, logs.String())
	}
}

// Closed model: each virtual user runs in exactly one shard, and replays
// the sessions it replays in an unsharded run, in the same order.
func TestShardsSplitTheUsers(t *testing.T) {
	args := []string{"--scale", "8", "--ramp", "1ms", "--pacing", "high", "--duration", "2s", "--seed", "3", "read_heavy"}
	dir := t.TempDir()
	oneFiles := replayShards(t, 0, filepath.Join(dir, "one"), append([]string{"--host", startDemo(t)}, args...)...)
	one := readAll(t, oneFiles)
	four := readAll(t, replayShards(t, 4, filepath.Join(dir, "shards"), append([]string{"--host", startDemo(t)}, args...)...))
	seqs := func(rows []results.Result) map[int32][]int64 {
		slices.SortStableFunc(rows, func(a, b results.Result) int { return a.Sent.Compare(b.Sent) })
		m := map[int32][]int64{}
		for _, r := range rows {
			m[r.VU] = append(m[r.VU], r.TraceID)
		}
		return m
	}
	for _, r := range four {
		if int(r.VU)%4 != int(r.Shard) {
			t.Fatalf("user %d ran in shard %d", r.VU, r.Shard)
		}
	}
	a, b := seqs(one), seqs(four)
	if len(a) != 8 || len(b) != 8 {
		t.Fatalf("%d users unsharded, %d sharded", len(a), len(b))
	}
	for v, s := range a {
		n := min(len(s), len(b[v]))
		if n < 3 || !slices.Equal(s[:n], b[v][:n]) {
			t.Errorf("user %d: unsharded %v, sharded %v", v, s[:min(n, 8)], b[v][:min(n, 8)])
		}
	}
}
