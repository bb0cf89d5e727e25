// Package results holds the results format: one row per replayed request,
// zstd-compressed parquet, written by replay and read by analyze (and by
// DuckDB or pandas as it is).
package results

import (
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/replaykit/replaykit/pqfile"
)

// Result is one replayed request and what came back. The parquet tags are
// the public column names of the results format.
type Result struct {
	// Run is the run id, {scenario}_{timestamp}.
	Run string `parquet:"run,dict"`
	// Scenario is the scenario's name (light_load, spike_test, ...).
	Scenario string `parquet:"scenario,dict"`
	// Shard is the shard that sent the request (0 when not sharded).
	Shard int32 `parquet:"shard"`
	// VU is the virtual user that sent it.
	VU int32 `parquet:"vu"`
	// TraceID is the id of the trace row the request came from.
	TraceID int64 `parquet:"trace_id"`
	// Method is the request method.
	Method string `parquet:"method,dict"`
	// Name is the route template, the stats key (/api/tasks/{id}).
	Name string `parquet:"name,dict"`
	// URL is the URL requested.
	URL string `parquet:"url"`
	// Scheduled is when the request was meant to leave, UTC.
	Scheduled time.Time `parquet:"scheduled,timestamp(nanosecond)"`
	// Sent is when it left, UTC.
	Sent time.Time `parquet:"sent,timestamp(nanosecond)"`
	// LatencyNanos is the time in nanoseconds from Scheduled (open model)
	// or Sent (closed model) to the response fully read.
	LatencyNanos int64 `parquet:"latency_ns"`
	// TTFBNanos is the time in nanoseconds from Sent to the first response
	// byte.
	TTFBNanos int64 `parquet:"ttfb_ns"`
	// Status is the response status, 0 on a transport error.
	Status int32 `parquet:"status"`
	// Error is the transport error, or "" when a response came.
	Error string `parquet:"error,dict"`
	// ReqSize and RespSize are the body sizes in bytes.
	ReqSize  int64 `parquet:"req_size"`
	RespSize int64 `parquet:"resp_size"`
	// RecordedStatus is the status the trace saw for this request.
	RecordedStatus int32 `parquet:"recorded_status"`
	// Users is the number of active virtual users when it was sent.
	Users int32 `parquet:"users"`
	// Carried counts the values this request took from its session's live
	// responses, or made anew (a made-up id), in place of the recorded
	// ones; NotCarried its links that could not be (the source did not
	// answer as recorded, or its answer lacked the value): those values
	// went as recorded. Both 0 with replay --no-correlate.
	Carried    int32 `parquet:"carried"`
	NotCarried int32 `parquet:"not_carried"`
	// BehindNanos is how long after its time on the recorded timeline the
	// request was ready to leave (the recorded scenario): an earlier
	// answer of its session, which it waits for as the recorded client
	// did, came that late. Scheduled is when it was ready, so its time on
	// the timeline is Scheduled - BehindNanos, and its start lateness
	// Sent - Scheduled + BehindNanos. 0 in the other scenarios.
	BehindNanos int64 `parquet:"behind_ns"`
	// Seq is the request's place in its recorded session (0: the first):
	// in the recorded scenario, a row of Seq 0 is a session's start, and
	// its Sent - Scheduled how late the session started.
	Seq int32 `parquet:"seq"`
	// Compared says the answer was compared with the recorded one (both
	// answered; the trace has the recorded answer's signature); Diff is
	// then how it differed, in a few words and never a value
	// ("status 200->302", "missing $.items[].owner", "value $.state";
	// package signature), or "" when it agreed.
	Compared bool   `parquet:"compared"`
	Diff     string `parquet:"diff,dict"`
	// BodySkipped says the answer was compared by its status alone
	// though its body could have been: comparing it would have taken
	// replay more than its share of CPU (replay.CompareShare).
	BodySkipped bool `parquet:"body_skipped"`
	// The shadow target's answer (replay --shadow; zero without): its
	// status (0 on a transport error, then ShadowError), its latency
	// counted as LatencyNanos is, ShadowDiff how it differed from the
	// recorded answer, TargetsDiff how it differed from the main target's
	// ("" when they agree; the main target's answer is the recorded one
	// of the comparison: "status 200->500" is main 200, shadow 500).
	ShadowStatus       int32  `parquet:"shadow_status"`
	ShadowLatencyNanos int64  `parquet:"shadow_latency_ns"`
	ShadowError        string `parquet:"shadow_error,dict"`
	ShadowDiff         string `parquet:"shadow_diff,dict"`
	TargetsDiff        string `parquet:"targets_diff,dict"`
	// Proto is the protocol the request went over: "HTTP/1.1", or
	// "HTTP/2.0" (h2c, or TLS with ALPN h2). Files written before it
	// read "".
	Proto string `parquet:"proto,dict"`
	// GRPCStatus is a gRPC call's grpc-status (0 OK, 5 NOT_FOUND, 14
	// UNAVAILABLE, ...), from the answer's trailers or, in a
	// trailers-only answer, its headers; NoGRPCStatus when the request
	// was no gRPC call or no status came (and in files written before
	// it). A non-zero one is a failure, as gRPC's own tools count it.
	GRPCStatus int32 `parquet:"grpc_status"`
	// GRPCMessage is the grpc-message beside it, percent-decoded.
	GRPCMessage string `parquet:"grpc_message"`
}

// NoGRPCStatus is GRPCStatus when there is none.
const NoGRPCStatus = -1

// Failed says whether the request failed, by Locust's rule: a transport
// error or a status of 400 or more; and by gRPC's tools', a non-zero
// grpc-status.
func (r *Result) Failed() bool { return Failed(r.Status, r.GRPCStatus, r.Error) }

// Failed says whether a request of that status, grpc-status
// (NoGRPCStatus: none) and error failed.
func Failed(status, grpc int32, err string) bool {
	return (err != "" && err != Abandoned) || status >= 400 || grpc > 0
}

// Unavailable says whether the request counts against availability: a
// transport error, a 5xx, or a gRPC status that stands for one.
func (r *Result) Unavailable() bool { return Unavailable(r.Status, r.GRPCStatus, r.Error) }

// Unavailable says whether a request of that status, grpc-status and
// error counts against availability. The gRPC statuses that do are
// those gRPC's HTTP mapping (google.rpc.Code) makes a 5xx: UNKNOWN,
// DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
func Unavailable(status, grpc int32, err string) bool {
	return (err != "" && err != Abandoned) || status >= 500 || grpcUnavailable(grpc)
}

func grpcUnavailable(code int32) bool {
	switch code {
	case 2, 4, 12, 13, 14, 15:
		return true
	}
	return false
}

// RateLimited says whether the server answered 429, or gRPC's
// RESOURCE_EXHAUSTED (8), which gRPC's HTTP mapping makes a 429.
func (r *Result) RateLimited() bool { return RateLimited(r.Status, r.GRPCStatus) }

// RateLimited says whether a request of that status and grpc-status was
// rate limited.
func RateLimited(status, grpc int32) bool { return status == 429 || grpc == 8 }

// GRPCCodeName is the name gRPC gives a status code ("NOT_FOUND"), or
// "" for a code it does not define.
func GRPCCodeName(code int32) string {
	if code >= 0 && int(code) < len(grpcCodes) {
		return grpcCodes[code]
	}
	return ""
}

var grpcCodes = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// WriterOptions bound a Writer's memory (see pqfile.Options).
type WriterOptions = pqfile.Options

// Writer streams results into a file: NAME.tmp, renamed on Close, 0600.
type Writer struct {
	w *pqfile.Writer[Result]
}

// Create opens a new results file at path. It never writes over a file:
// when path (or a run writing it) exists, it fails with an error wrapping
// os.ErrExist.
func Create(path string, opts WriterOptions) (*Writer, error) {
	opts.NoReplace = true
	w, err := pqfile.Create[Result]("results", path, "results/1", opts, parquet.SkipPageBounds("url"))
	if err != nil {
		return nil, err
	}
	return &Writer{w: w}, nil
}

// Write appends one result (copied).
func (w *Writer) Write(r *Result) error {
	return w.w.Write(r, int64(len(r.URL)+len(r.Name)+len(r.Error)+96))
}

// Path is the final name of the file.
func (w *Writer) Path() string { return w.w.Path() }

// Keys of a results file's metadata.
const (
	// MetaShard is "I/N": the file holds shard I of a run in N shards.
	MetaShard = "replaykit.shard"
	// MetaStopped, when set, says why the run ended before its duration
	// ("interrupted", ...): the file is complete, the run was not.
	MetaStopped = "replaykit.stopped"
	// MetaOverloaded is how many seconds the generator was the bottleneck
	// (CPU saturated or sends running late): figures measured then are
	// the generator's as much as the server's.
	MetaOverloaded = "replaykit.overloaded_seconds"
	// MetaOverloadCause says what made the generator the bottleneck, and
	// for how long: "replay's own CPU 12 s, sends late 3 s".
	MetaOverloadCause = "replaykit.overload_cause"
	// MetaUnsent counts open-model requests scheduled before the end that
	// the generator could not send by then.
	MetaUnsent = "replaykit.unsent"
	// MetaTimeline is, for the recorded scenario, the recorded arrivals
	// the run replays: a Timeline as JSON.
	MetaTimeline = "replaykit.timeline"
)

// Keys of a results file's metadata that say how the run was made, for
// the report's facts. Files written before them lack them: a report then
// leaves them out.
const (
	// MetaVersion is the replay that wrote the file, as its --version
	// says: "replay 0.1.0 (go1.26.8, commit 7571bc3a1b2c)".
	MetaVersion = "replaykit.version"
	// MetaTarget is the target's URL, credentials left out.
	MetaTarget = "replaykit.target"
	// MetaTraces are the trace files replayed, a JSON array of paths as
	// replay was given them (globs expanded).
	MetaTraces = "replaykit.traces"
	// MetaTraceSpan is the traces' first and last request times, RFC3339
	// with nanoseconds: "FIRST/LAST".
	MetaTraceSpan = "replaykit.trace_span"
	// MetaUsers is the virtual users at full load, over all shards
	// (closed model).
	MetaUsers = "replaykit.users"
	// MetaDuration is the run's planned duration (a Go duration).
	MetaDuration = "replaykit.duration"
	// MetaPacing is the pacing profile (closed model): recorded, normal,
	// high, stress or none.
	MetaPacing = "replaykit.pacing"
	// MetaSpeed divides the recorded think times or the timeline's
	// offsets (with recorded pacing or the recorded scenario).
	MetaSpeed = "replaykit.speed"
	// MetaRamp is how long users took to start (a ramp's, a Go duration).
	MetaRamp = "replaykit.ramp"
	// MetaRate is the open model's requests per second.
	MetaRate = "replaykit.rate"
	// MetaAmplify is the copies of each recorded session (the recorded
	// scenario).
	MetaAmplify = "replaykit.amplify"
	// MetaSeed seeded the sessions' order and the pacing draws.
	MetaSeed = "replaykit.seed"
)

// Abandoned is the error of a request abandoned in flight (a second
// Ctrl-C): it is not the server's failure, and analyze leaves it out of
// the figures.
const Abandoned = "abandoned"

// IsAbandoned says whether the request was abandoned in flight.
func (r *Result) IsAbandoned() bool { return r.Error == Abandoned }

// SetMeta records a fact about the run in the file's footer.
func (w *Writer) SetMeta(key, value string) { w.w.SetMeta(key, value) }

// Rows is how many results were written.
func (w *Writer) Rows() int64 { return w.w.Rows() }

// Flush writes the buffered rows as a row group.
func (w *Writer) Flush() error { return w.w.Flush() }

// Close completes the file.
func (w *Writer) Close() error { return w.w.Close() }

// Abort removes the unfinished file.
func (w *Writer) Abort() { w.w.Abort() }

// File is an open results file.
type File = pqfile.File

// Open opens a results file and checks its columns. A file from a newer
// replaykit with extra columns opens; one missing a column does not.
func Open(path string) (*File, error) {
	// Results are scanned whole, never sought: their page index (about
	// 0.6 MB a million rows) would only take memory.
	return pqfile.Open[Result]("results", path, parquet.SkipPageIndex(true))
}

// Scan streams the rows of f into T: Result, or a struct with some of its
// columns (only those are read). fn must not keep the pointer.
func Scan[T any](f *File, fn func(*T) error) error { return pqfile.Scan(f, fn) }

// ReadAll reads a whole results file. For tests and small files.
func ReadAll(path string) ([]Result, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_, hasGRPC := f.Parquet().Schema().Lookup("grpc_status")
	out := make([]Result, 0, f.NumRows())
	err = Scan(f, func(r *Result) error {
		if !hasGRPC {
			r.GRPCStatus = NoGRPCStatus // as ScanBatches reads such files
		}
		out = append(out, *r)
		return nil
	})
	return out, err
}

// LaterColumns are the columns results written before them lack
// (pqfile.Later): such files read with them 0 (grpc_status:
// NoGRPCStatus).
func (*Result) LaterColumns() []string {
	return []string{"carried", "not_carried", "behind_ns", "seq", "compared", "diff",
		"shadow_status", "shadow_latency_ns", "shadow_error", "shadow_diff", "targets_diff", "body_skipped",
		"proto", "grpc_status", "grpc_message"}
}
