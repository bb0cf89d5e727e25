package signature

import (
	"slices"
	"strconv"
	"strings"
)

// MinStable is how many recorded answers must agree on a value before a
// live answer that differs there is reported: fewer could agree by
// chance.
const MinStable = 5

// maxModelPaths bounds the paths a model keeps per status: answers that
// use ids as keys would otherwise grow it with every answer.
const maxModelPaths = 8 * MaxLeaves

// Model is what the recording says of one route's answers: which paths
// are always there, which types each has, which values never change.
// It keeps that per status code, since a route's 404s have another shape
// than its 200s. The zero value is ready to use. Learn must not run at
// the same time as anything else on the model; Diff may run on many
// goroutines at once.
type Model struct {
	statuses map[int32]*answers
}

// answers is what a model knows of a route's answers of one status.
type answers struct {
	seen int // answers learned: tells one answer's paths from the next's
	// whole counts the JSON answers learned that were not cut: a path
	// that fewer had is optional.
	whole int
	paths map[string]*pathModel
	// full says paths were left out (maxModelPaths): a path the model
	// does not know is then not judged.
	full    bool
	classes map[string]bool // length classes of the answers that were not JSON
	body    stable          // their hash
}

// pathModel is what a model knows of one path.
type pathModel struct {
	whole int   // whole answers that had it
	last  int   // the answer that last had it (answers.seen)
	types uint8 // types seen in any answer
	value stable
	// volatile: a value there looked like a time, an id or a token in
	// some answer (Leaf.Volatile): never compared.
	volatile bool
}

// stable follows whether a hash stays the same.
type stable struct {
	hash   int64
	n      int // answers with that hash
	varied bool
}

func (v *stable) add(h int64) {
	switch {
	case v.varied:
	case v.n == 0:
		v.hash, v.n = h, 1
	case h == v.hash:
		v.n++
	default:
		v.varied = true
	}
}

// is returns the hash when enough answers had it and none another.
func (v *stable) is() (int64, bool) {
	return v.hash, !v.varied && v.n >= MinStable && v.hash != 0
}

// Learn adds one recorded answer of the route: its status and its
// signature. An answer cut short says which paths and types exist, not
// which are lacking nor what the values hash to.
func (m *Model) Learn(status int32, s Signature) {
	if status == 0 {
		return // no answer: Diff compares nothing against it
	}
	if m.statuses == nil {
		m.statuses = make(map[int32]*answers)
	}
	a := m.statuses[status]
	if a == nil {
		a = &answers{paths: make(map[string]*pathModel), classes: make(map[string]bool)}
		m.statuses[status] = a
	}
	a.seen++
	switch s.Kind {
	case KindJSON:
	case KindOther:
		if !s.Cut {
			a.classes[s.Class] = true
			a.body.add(s.Hash)
		}
		return
	default:
		return
	}
	if !s.Cut {
		a.whole++
	}
	for _, l := range s.Leaves {
		p := a.paths[l.Path]
		if p == nil {
			if len(a.paths) >= maxModelPaths {
				a.full = true
				continue
			}
			p = new(pathModel)
			a.paths[l.Path] = p
		}
		if p.last == a.seen {
			continue // a path twice in one answer (not from Of)
		}
		p.last = a.seen
		t, _ := typeSet(l.Types)
		p.types |= t
		p.volatile = p.volatile || l.Volatile
		if !s.Cut {
			p.whole++
			p.value.add(l.Hash)
		}
	}
}

// Ranks of differences, most important first: the first one found of the
// lowest rank is the one reported.
const (
	rankMediaType = iota
	rankKind
	rankMissing // and, for answers that are not JSON, a length class
	rankTypes   // and a body hash
	rankAdded
	rankValue
)

// Diff compares a live answer with its recorded one under the route's
// model. It returns "" when they agree, else the most important
// difference in a few words, never a value, and how many more there are:
//
//	status 200->302                   the status differs (nothing else is then compared)
//	type application/json->text/html  the media type differs
//	kind json->invalid                what the body is differs
//	missing $.items[].owner           a path recorded is not in the live answer
//	type $.count number->string       a path has a type never recorded there
//	added $.debug                     a path no recorded answer had
//	value $.state                     a value all recorded answers had (MinStable or more) changed
//	class <1K->>=1M                   a body that is not JSON is of a length class never recorded
//	body                              such a body changed where it never did
//	missing $.items (+2 more)         several differences
//
// Noise is what the model saw: a path missing from some recorded answers
// of the status is optional, a type seen there in any of them is
// allowed, a value is compared only where it never changed. A path
// under a missing or added one is not judged nor counted on its own.
// Nothing is compared when the recorded status is 0 (no answer
// recorded), nor, beyond status and media type, when either body is
// KindUnknown.
func (m *Model) Diff(recStatus int32, rec Signature, liveStatus int32, live Signature) string {
	if recStatus == 0 {
		return ""
	}
	if recStatus != liveStatus {
		return "status " + strconv.Itoa(int(recStatus)) + "->" + strconv.Itoa(int(liveStatus))
	}
	if rec.Kind == "" {
		return "" // a trace recorded before signatures
	}
	var f findings
	if rec.Type != live.Type {
		f.note(rankMediaType, "type", "", orNone(rec.Type), orNone(live.Type))
	}
	switch {
	case rec.Kind == KindUnknown || live.Kind == KindUnknown || live.Kind == "":
	case rec.Kind != live.Kind:
		f.note(rankKind, "kind", "", rec.Kind, live.Kind)
	case rec.Kind == KindJSON:
		m.of(recStatus).diffLeaves(&f, rec, live)
	case rec.Kind == KindOther:
		m.of(recStatus).diffBody(&f, rec, live)
	}
	return f.String()
}

// of is what the model knows of the answers of a status; nil if nothing.
func (m *Model) of(status int32) *answers {
	if m == nil {
		return nil
	}
	return m.statuses[status]
}

// path is what a knows of a path; known is false when a left it out (too
// many paths), and nothing is to be said of it.
func (a *answers) path(p string) (pm *pathModel, known bool) {
	if a == nil {
		return nil, true
	}
	pm = a.paths[p]
	return pm, pm != nil || !a.full
}

// optional says whether the recording had answers with the parent of
// path p but without p: an emptied array, an absent field.
func (a *answers) optional(p string) bool {
	if a == nil {
		return false
	}
	pm := a.paths[p]
	if pm == nil {
		return false
	}
	up, ok := parent(p)
	if !ok {
		return pm.whole < a.whole
	}
	pp := a.paths[up]
	return pp != nil && pm.whole < pp.whole
}

// diffLeaves compares the paths of two JSON answers, walking both sorted
// lists at once. Of the paths one answer lacks, only the topmost is
// judged: those under it go with it.
func (a *answers) diffLeaves(f *findings, rec, live Signature) {
	r, l := rec.Leaves, live.Leaves
	for len(r) > 0 || len(l) > 0 {
		var c int
		switch {
		case len(r) == 0:
			c = 1
		case len(l) == 0:
			c = -1
		default:
			c = strings.Compare(r[0].Path, l[0].Path)
		}
		switch {
		case c < 0: // recorded only
			p := r[0].Path
			r = r[1:]
			if live.Cut {
				continue
			}
			if up, ok := parent(p); ok && !has(live.Leaves, up) {
				continue // counted with the missing parent
			}
			if _, known := a.path(p); !known || a.optional(p) {
				continue
			}
			f.note(rankMissing, "missing", p, "", "")
		case c > 0: // live only
			p := l[0].Path
			l = l[1:]
			if rec.Cut {
				continue
			}
			if up, ok := parent(p); ok && !has(rec.Leaves, up) {
				if upm, _ := a.path(up); upm == nil {
					continue // counted with the added parent
				}
			}
			if pm, known := a.path(p); !known || pm != nil {
				continue
			}
			f.note(rankAdded, "added", p, "", "")
		default:
			rl, ll := r[0], l[0]
			r, l = r[1:], l[1:]
			pm, _ := a.path(rl.Path)
			if rl.Types != ll.Types {
				seen, _ := typeSet(rl.Types)
				now, _ := typeSet(ll.Types)
				if pm != nil {
					seen |= pm.types
				}
				if now&^seen != 0 || now == 0 {
					f.note(rankTypes, "type", rl.Path, rl.Types, ll.Types)
					continue
				}
			}
			if pm == nil || rec.Cut || live.Cut {
				continue // the hashes of a cut answer cover only its start
			}
			if pm.volatile || rl.Volatile || ll.Volatile {
				continue // a time, an id, a token: another server's
			}
			if h, ok := pm.value.is(); ok && ll.Hash != h {
				f.note(rankValue, "value", rl.Path, "", "")
			}
		}
	}
}

// has says whether sorted leaves have path p.
func has(leaves []Leaf, p string) bool {
	_, ok := slices.BinarySearchFunc(leaves, p, func(l Leaf, p string) int { return strings.Compare(l.Path, p) })
	return ok
}

// parent is the path p is under: "$.a" of "$.a.b", of "$.a[]" and of
// `$.a["b c"]`; false for "$".
func parent(p string) (string, bool) {
	switch {
	case strings.HasSuffix(p, "[]"):
		return p[:len(p)-2], true
	case strings.HasSuffix(p, `"]`):
		// The opening quote is the first one back that is not escaped.
		for i := len(p) - 3; i > 0; i-- {
			if p[i] != '"' {
				continue
			}
			n := 0
			for j := i - 1; j >= 0 && p[j] == '\\'; j-- {
				n++
			}
			if n%2 == 0 && p[i-1] == '[' {
				return p[:i-1], true
			}
		}
		return "", false
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i], true
	}
	return "", false
}

// diffBody compares two answers that are not JSON.
func (a *answers) diffBody(f *findings, rec, live Signature) {
	if rec.Class != live.Class && (a == nil || !a.classes[live.Class]) && apart(rec, live) {
		f.note(rankMissing, "class", "", rec.Class, live.Class)
	}
	if a == nil || rec.Cut || live.Cut {
		return // the hash of a cut body is not of the body
	}
	if h, ok := a.body.is(); ok && live.Hash != h {
		f.note(rankTypes, "body", "", "", "")
	}
}

// classes are the length classes, shortest first.
var classes = []string{"0", "<100", "<1K", "<10K", "<100K", "<1M", ">=1M"}

// apart says whether two bodies' length classes tell them apart. The
// class of a cut body is that of its start: the body is at least that.
func apart(rec, live Signature) bool {
	r, l := slices.Index(classes, rec.Class), slices.Index(classes, live.Class)
	switch {
	case r < 0 || l < 0:
		return false
	case rec.Cut && live.Cut:
		return false
	case rec.Cut:
		return l < r
	case live.Cut:
		return r < l
	}
	return r != l
}

func orNone(mediaType string) string {
	if mediaType == "" {
		return "none"
	}
	return mediaType
}

// findings keeps the most important difference found and counts them
// all; only the one reported is made into words.
type findings struct {
	n                    int
	rank                 int
	what, path, from, to string
}

func (f *findings) note(rank int, what, path, from, to string) {
	f.n++
	if f.n == 1 || rank < f.rank {
		f.rank, f.what, f.path, f.from, f.to = rank, what, path, from, to
	}
}

func (f *findings) String() string {
	if f.n == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(f.what)
	if f.path != "" {
		b.WriteString(" " + f.path)
	}
	if f.from != "" || f.to != "" {
		b.WriteString(" " + f.from + "->" + f.to)
	}
	if f.n > 1 {
		b.WriteString(" (+" + strconv.Itoa(f.n-1) + " more)")
	}
	return b.String()
}
