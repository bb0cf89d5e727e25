package results

import (
	"strconv"

	"github.com/replaykit/replaykit/pqfile"
	"github.com/replaykit/replaykit/shard"
)

// RunInfo is what a results file's footer says of the run that wrote it.
// Values a file lacks, or that do not parse, are left zero: older files
// lack the later keys, and a damaged key must not cost the file's rows.
type RunInfo struct {
	// Run is the run id of the file's first row ("" for an empty file).
	Run string
	// Shard is the file's shard of a sharded run (MetaShard); nil when
	// the run was not sharded.
	Shard *shard.Shard
	// Stopped says the run ended before its duration, and StopReason why
	// (MetaStopped).
	Stopped    bool
	StopReason string
	// OverloadedSeconds, OverloadCause and Unsent are MetaOverloaded,
	// MetaOverloadCause and MetaUnsent.
	OverloadedSeconds int
	OverloadCause     string
	Unsent            int64
	// Timeline is the recorded timeline the run replayed (MetaTimeline),
	// nil without one; TimelineErr says why it could not be read.
	Timeline    *Timeline
	TimelineErr error
	// Parameters are the values of ParameterKeys the file has, by key.
	Parameters map[string]string
	// Changes are the users or rate changes made while the run ran
	// (MetaChanges), in order; ChangesErr says why they could not be read.
	Changes    []Change
	ChangesErr error
}

// ParameterKeys are the footer keys that say how the run was made.
var ParameterKeys = []string{MetaTarget, MetaUsers, MetaDuration, MetaPacing, MetaSpeed, MetaRamp,
	MetaRate, MetaAmplify, MetaSeed, MetaTraces, MetaTraceSpan, MetaVersion}

// ReadRunInfo reads f's footer, and its first row's run id.
func ReadRunInfo(f *File) RunInfo {
	var info RunInfo
	if first, err := pqfile.ReadRange[struct {
		Run string `parquet:"run"`
	}](f, 0, 1); err == nil && len(first) == 1 {
		info.Run = first[0].Run
	}
	if spec, ok := f.Meta(MetaShard); ok {
		if sh, err := shard.Parse(spec); err == nil {
			info.Shard = &sh
		}
	}
	info.StopReason, info.Stopped = f.Meta(MetaStopped)
	if n, ok := f.Meta(MetaOverloaded); ok {
		if secs, err := strconv.Atoi(n); err == nil && secs > 0 {
			info.OverloadedSeconds = secs
		}
	}
	info.OverloadCause, _ = f.Meta(MetaOverloadCause)
	if n, ok := f.Meta(MetaUnsent); ok {
		if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > 0 {
			info.Unsent = v
		}
	}
	if s, ok := f.Meta(MetaTimeline); ok {
		info.Timeline, info.TimelineErr = ParseTimeline(s)
	}
	if s, ok := f.Meta(MetaChanges); ok {
		info.Changes, info.ChangesErr = DecodeChanges(s)
	}
	for _, k := range ParameterKeys {
		if v, ok := f.Meta(k); ok && v != "" {
			if info.Parameters == nil {
				info.Parameters = map[string]string{}
			}
			info.Parameters[k] = v
		}
	}
	return info
}
