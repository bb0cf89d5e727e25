// Command statusmatch prints how many replayed requests got the status
// class (2xx, 3xx, 4xx, 5xx) the recording saw, and the values carried,
// on one line of key=value pairs; then the routes that differed most.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/replaykit/replaykit/results"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: statusmatch RESULTS.parquet...")
		os.Exit(2)
	}
	type diff struct {
		method, name      string
		recorded, replied int32
	}
	diffs := map[diff]int{}
	var total, same, carried, missed, failed int
	for _, p := range os.Args[1:] {
		rows, err := results.ReadAll(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "statusmatch:", err)
			os.Exit(2)
		}
		for _, r := range rows {
			if r.IsAbandoned() {
				continue
			}
			total++
			carried += int(r.Carried)
			missed += int(r.NotCarried)
			if r.Status == 0 {
				failed++
			}
			if r.Status/100 == r.RecordedStatus/100 {
				same++
				continue
			}
			diffs[diff{r.Method, r.Name, r.RecordedStatus, r.Status}]++
		}
	}
	fmt.Printf("requests=%d same_class=%d same_pct=%.2f carried=%d not_carried=%d no_answer=%d\n",
		total, same, 100*float64(same)/float64(max(total, 1)), carried, missed, failed)
	var ds []diff
	for d := range diffs {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return diffs[ds[i]] > diffs[ds[j]] })
	for i, d := range ds {
		if i == 5 {
			break
		}
		fmt.Printf("  %d x %s %s: recorded %d, got %d\n", diffs[d], d.method, d.name, d.recorded, d.replied)
	}
}
