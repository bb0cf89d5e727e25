package replay

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/signature"
	"github.com/replaykit/replaykit/trace"
)

// Answers compares live answers with the recorded ones: each route's
// model is learned from every recorded answer of the trace as it is read
// (Learn, as session.Options.Observe), then each live answer's signature
// is compared with its own recorded one under that model (package
// signature). Learn runs before the run; Compare is safe for concurrent
// use after it.
type Answers struct {
	models map[answerRoute]*signature.Model
	keys   []fileKey // by session.Request.File
	budget *budget   // nil: every answer's body is compared
}

// CompareShare is the share of replay's cores that comparing answers'
// bodies may take. Past it an answer is compared by its status alone, and
// counted (results.Result.BodySkipped), so that checking the load does
// not cut it: a 100 KiB JSON answer takes about 0.7 ms of a core to
// compare, six times what sending and reading it takes at full speed.
const CompareShare = 0.10

// compareBurst is what comparing may take ahead of its share: the first
// answers of a run, and a slow one now and then, are compared whole.
const compareBurst = 50 * time.Millisecond

// budget is the time comparing bodies may take: share of the cores'
// time since the first answer, plus compareBurst. Answers are admitted
// while the time spent is under it, whatever their size, so the ones
// compared are a fair sample of all.
type budget struct {
	share float64 // of one core's time: CompareShare times the cores
	once  sync.Once
	start time.Time
	spent atomic.Int64 // ns comparing
}

// admit says whether an answer coming now may have its body compared.
func (b *budget) admit(now time.Time) bool {
	if b == nil {
		return true
	}
	b.once.Do(func() { b.start = now })
	return float64(b.spent.Load()) < b.share*float64(now.Sub(b.start))+float64(compareBurst)
}

func (b *budget) charge(d time.Duration) {
	if b != nil {
		b.spent.Add(int64(d))
	}
}

// Limit bounds the time comparing bodies takes to share (of the cores
// replay runs on: runtime.GOMAXPROCS), from the first answer on.
func (a *Answers) Limit(share float64) {
	a.budget = &budget{share: share * float64(runtime.GOMAXPROCS(0))}
}

// Admit says whether r's live answer, coming now, is to have its body
// compared: it needs one (see body), and comparing it keeps within
// Limit's share. Ask once per answer, before reading its body.
func (a *Answers) Admit(r *session.Request, now time.Time) bool {
	return a.body(r) && a.budget.admit(now)
}

type answerRoute struct{ method, route string }

type fileKey struct {
	key signature.Key
	ok  bool // the file has signatures
}

// NewAnswers is ready to Learn.
func NewAnswers() *Answers { return &Answers{models: map[answerRoute]*signature.Model{}} }

// Learn takes one recorded request's answer into its route's model.
func (a *Answers) Learn(r *session.Request) {
	if r.Status == 0 || r.RespSig.Kind == "" {
		return // no answer recorded, or recorded before signatures
	}
	k := answerRoute{r.Method, r.Route}
	m := a.models[k]
	if m == nil {
		m = &signature.Model{}
		a.models[k] = m
	}
	m.Learn(r.Status, r.RespSig)
}

// Keys reads the signature key of each of src's trace files. A file
// whose key does not parse is compared by status and shape only (its
// values hash otherwise).
func (a *Answers) Keys(src *session.Source, files int) {
	a.keys = make([]fileKey, files)
	for i := range files {
		if k, err := signature.ParseKey(src.SignatureKey(int32(i))); err == nil {
			a.keys[i] = fileKey{key: k, ok: true}
		}
	}
}

// body says whether r's live answer's body is needed to compare it: its
// recorded answer has a signature that says something of its body.
func (a *Answers) body(r *session.Request) bool {
	switch r.RespSig.Kind {
	case "", "unknown":
		return false
	}
	return r.Status != 0 && int(r.File) < len(a.keys) && a.keys[r.File].ok
}

// Compare compares the live answer to r (status, its Content-Type and
// Content-Encoding, the start of its body as sent, cut when that is not
// all of it) with the recorded
// one: compared is false when there is nothing to compare with (no answer
// recorded, or none came: status 0); diff is "" when they agree; live is
// the answer's signature. admitted is Admit's word on it: when false,
// the answer is compared by status alone.
func (a *Answers) Compare(r *session.Request, status int, contentType, contentEncoding string, body []byte, cut, admitted bool) (compared bool, diff string, live trace.Signature) {
	if r.Status == 0 || status == 0 {
		return false, "", live
	}
	rec := r.RespSig
	if admitted && a.body(r) && int32(status) == r.Status { // another status: its body was not kept
		start := time.Now()
		hs := [...]trace.Header{{Name: "Content-Type", Value: contentType}, {Name: "Content-Encoding", Value: contentEncoding}}
		live = signature.Of(a.keys[r.File].key, hs[:], body, cut)
		diff = a.model(r).Diff(r.Status, rec, int32(status), live)
		a.budget.charge(time.Since(start))
		return true, diff, live
	}
	// Statuses only: the recorded answer says nothing else, or its body
	// was left out.
	rec, live = trace.Signature{Kind: "unknown"}, trace.Signature{Kind: "unknown"}
	return true, a.model(r).Diff(r.Status, rec, int32(status), live), live
}

// Between compares two live answers to r (the main target's and the
// shadow's, by their statuses and Compare's signatures) under r's route
// model, as Compare compares one with the recording.
func (a *Answers) Between(r *session.Request, status int32, sig trace.Signature, other int32, otherSig trace.Signature) string {
	if sig.Kind == "" || otherSig.Kind == "" {
		sig, otherSig = trace.Signature{Kind: "unknown"}, trace.Signature{Kind: "unknown"}
	}
	return a.model(r).Diff(status, sig, other, otherSig)
}

// model is r's route's model (empty if the recording had none).
func (a *Answers) model(r *session.Request) *signature.Model {
	if m := a.models[answerRoute{r.Method, r.Route}]; m != nil {
		return m
	}
	return &signature.Model{}
}
