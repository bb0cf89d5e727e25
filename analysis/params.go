package analysis

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/replaykit/replaykit/results"
)

// Parameter is one fact of how the run was made, from the results
// files' footers (results.MetaVersion and the keys after it).
type Parameter struct {
	// Name is what the report calls it: "pacing", "seed", "trace files".
	Name string
	// Value is the files' value; files that disagree (runs merged) give
	// their values apart: "1, 2".
	Value string
}

// parameterKeys are the footer keys shown, in the order shown, with
// their names.
var parameterKeys = []struct{ key, name string }{
	{results.MetaTarget, "target"},
	{results.MetaUsers, "users planned"},
	{results.MetaDuration, "duration planned"},
	{results.MetaPacing, "pacing"},
	{results.MetaSpeed, "speed"},
	{results.MetaRamp, "ramp"},
	{results.MetaRate, "rate (requests/s)"},
	{results.MetaAmplify, "amplify"},
	{results.MetaSeed, "seed"},
	{results.MetaTraces, "trace files"},
	{results.MetaTraceSpan, "traces' span"},
	{results.MetaVersion, "replaykit"},
}

// parameters are the facts the files gave, in parameterKeys' order: a
// key no file had is left out.
func (f *runFacts) parameters() []Parameter {
	var out []Parameter
	for _, k := range parameterKeys {
		vs := slices.Sorted(maps.Keys(f.params[k.key]))
		if len(vs) == 0 {
			continue
		}
		v := strings.Join(vs, ", ")
		switch k.key {
		case results.MetaTraces:
			v = traceFilesText(vs)
		case results.MetaTraceSpan:
			v = traceSpanText(vs)
		}
		if v != "" {
			out = append(out, Parameter{k.name, v})
		}
	}
	return out
}

// traceFilesText is the files of every JSON array, each once.
func traceFilesText(arrays []string) string {
	var files []string
	for _, a := range arrays {
		var fs []string
		if json.Unmarshal([]byte(a), &fs) == nil {
			files = append(files, fs...)
		}
	}
	slices.Sort(files)
	return strings.Join(slices.Compact(files), ", ")
}

// traceSpanText is the earliest first and the latest last of the
// "FIRST/LAST" spans, and how long that is.
func traceSpanText(spans []string) string {
	var first, last time.Time
	for _, s := range spans {
		from, to, _ := strings.Cut(s, "/")
		f, err1 := time.Parse(time.RFC3339Nano, from)
		l, err2 := time.Parse(time.RFC3339Nano, to)
		if err1 != nil || err2 != nil {
			continue
		}
		if first.IsZero() || f.Before(first) {
			first = f
		}
		if l.After(last) {
			last = l
		}
	}
	if first.IsZero() {
		return ""
	}
	return fmt.Sprintf("%s to %s (%s)", first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339), last.Sub(first).Round(time.Second))
}
