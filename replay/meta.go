package replay

import (
	"cmp"
	"encoding/json"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/replaykit/replaykit/internal/cmdline"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
)

// runMeta is what the results file's footer says of how the run was
// made (results.MetaVersion and the keys after it), for the report's
// facts: only the parameters that meant something for its model.
func runMeta(cfg Config, sc scenario.Scenario, p *Plan, st session.Stats, ramp time.Duration) map[string]string {
	m := map[string]string{
		results.MetaVersion:  cmdline.VersionLine("replay", debug.ReadBuildInfo),
		results.MetaTarget:   p.Target.String(),
		results.MetaDuration: p.Duration.String(),
		results.MetaSeed:     strconv.FormatUint(p.Seed, 10),
	}
	if files := traceFiles(cfg.Traces); len(files) > 0 {
		b, _ := json.Marshal(files)
		m[results.MetaTraces] = string(b)
	}
	if !st.First.IsZero() {
		m[results.MetaTraceSpan] = st.First.UTC().Format(time.RFC3339Nano) + "/" + st.Last.UTC().Format(time.RFC3339Nano)
	}
	speed := strconv.FormatFloat(cmp.Or(cfg.Speed, 1), 'f', -1, 64)
	switch {
	case sc.Timeline():
		m[results.MetaSpeed] = speed
		m[results.MetaAmplify] = strconv.FormatFloat(cmp.Or(cfg.Amplify, 1), 'f', -1, 64)
	case p.Rate > 0:
		m[results.MetaRate] = strconv.FormatFloat(p.Rate, 'f', -1, 64)
	default:
		pacing := cmp.Or(cfg.Pacing, sc.Pacing)
		m[results.MetaPacing] = pacing
		if pacing == "recorded" {
			m[results.MetaSpeed] = speed
		}
		m[results.MetaUsers] = strconv.Itoa(p.Users)
		if ramp > 0 {
			m[results.MetaRamp] = ramp.String()
		}
	}
	return m
}

// traceFiles are the files the trace globs name, as session.Open reads
// them.
func traceFiles(globs []string) []string {
	var files []string
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	slices.Sort(files)
	return slices.Compact(files)
}
