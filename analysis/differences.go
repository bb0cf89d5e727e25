package analysis

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Differences from the recording: replay compares an answer with the
// recorded one when both came and the trace holds the recorded answer's
// signature (results' compared column), and writes how it differed in a
// few words, never a value (the diff column, "" when it agreed):
//
//	status 200->302                   the status        family status
//	type application/json->text/html  the content type  family shape
//	kind json->invalid                the body's kind   family shape
//	missing $.items[].owner           a field gone      family shape
//	added $.debug                     a field new       family shape
//	type $.count number->string       a field's type    family shape
//	class <1K->>=1M                   the size class    family shape
//	value $.state                     a field's value   family value
//	body                              the bytes         family value
//
// The first word is the kind; " (+2 more)" may follow when an answer
// differed in several ways. Routes count each family, and the texts
// without that suffix, the most common of which the outputs show.
//
// The texts are counted exactly, per route, up to diffTextLimit distinct
// route and text pairs in all; past that, a sample of the pairs chosen by
// their hash (1 in 2, then 1 in 4, ...), each still counted exactly (as
// failures are): the same rows give the same figures in any order, on
// any number of cores.
const (
	diffTextLimit = 1 << 16
	// Texts are cut at maxDiffLen bytes (a path of field names from
	// traffic can be long).
	maxDiffLen = 160
)

// diffKey is a route's difference text.
type diffKey struct {
	Key
	text string
}

func hashDiff(d diffKey) uint64 {
	return hashFailure(Failure{Method: d.Method, Name: d.Name, Error: d.text})
}

// DiffCount is one difference's text and how many answers had it.
type DiffCount struct {
	Diff  string `json:"diff"`
	Count int64  `json:"count"`
}

// compare counts an answer compared with the recorded one; diff is how
// it differed ("" when it agreed).
func (s *Stats) compare(diff string) {
	s.Compared++
	if diff == "" {
		return
	}
	kind, _, _ := strings.Cut(diff, " ")
	switch kind {
	case "status":
		s.StatusDiffs++
	case "type", "kind", "missing", "added", "class":
		s.ShapeDiffs++
	default: // value, body, and kinds newer than this analyze
		s.ValueDiffs++
	}
}

// countDiff adds n answers that differed as text.
func (s *Stats) countDiff(text string, n int64) {
	if s.diffs == nil {
		s.diffs = map[string]int64{}
	}
	s.diffs[text] += n
}

func (s *Stats) mergeDiffs(o *Stats) {
	s.Compared += o.Compared
	s.BodySkipped += o.BodySkipped
	s.StatusDiffs += o.StatusDiffs
	s.ShapeDiffs += o.ShapeDiffs
	s.ValueDiffs += o.ValueDiffs
	for text, n := range o.diffs {
		s.countDiff(text, n)
	}
}

// sortedDiffs are the texts counted, most first (ties by text).
func (s *Stats) sortedDiffs() []DiffCount {
	out := make([]DiffCount, 0, len(s.diffs))
	for text, c := range s.diffs {
		out = append(out, DiffCount{text, c})
	}
	slices.SortFunc(out, func(x, y DiffCount) int { return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Diff, y.Diff)) })
	return out
}

// diffText is what a difference is counted as: its text without
// " (+N more)", at most maxDiffLen bytes.
func diffText(d string) string {
	if len(d) <= maxDiffLen && !strings.HasSuffix(d, ")") {
		return d
	}
	if i := strings.LastIndex(d, " (+"); i >= 0 && strings.HasSuffix(d, " more)") && digits(d[i+3:len(d)-len(" more)")]) {
		d = d[:i]
	}
	if len(d) > maxDiffLen {
		cut := maxDiffLen
		for cut > 0 && !utf8.RuneStart(d[cut]) {
			cut--
		}
		d = d[:cut] + "…"
	}
	return d
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// Mismatched counts the compared answers that differed from the
// recorded ones.
func (s *Stats) Mismatched() int64 { return s.StatusDiffs + s.ShapeDiffs + s.ValueDiffs }

// MismatchRate is Mismatched over Compared (0 with none compared).
func (s *Stats) MismatchRate() float64 { return ratio(s.Mismatched(), s.Compared) }

// TopDiffs are the n most common differences, most first (ties by
// text).
func (s *Stats) TopDiffs(n int) []DiffCount {
	out := s.sortedDiffs()
	if len(out) == 0 {
		return nil
	}
	return out[:min(n, len(out))]
}
