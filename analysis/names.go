package analysis

import (
	"cmp"
	"hash/fnv"
	"maps"
	"math"
	"runtime"
	"slices"

	"github.com/replaykit/replaykit/pqfile"
	"github.com/replaykit/replaykit/results"
)

// Which names get a row of their own must not depend on how rows are
// shared among the cores, nor on the order files and row groups come in:
// past maxNames, the maxNames names with the most requests are kept (ties
// by method, then name), the others counted under OtherName.
//
// Before the figures, a first pass reads only the method and name columns
// and counts rows per name. It is skipped when the files' dictionaries
// (every row group holds its distinct names once) show that there cannot
// be more than maxNames method+name pairs: the usual case, route
// templates. A trace without templates can have millions of distinct
// names: the pass then counts at most nameCountLimit of them exactly,
// chosen by a hash of the name (sampled), so its memory is bounded and
// the names kept are still the same on every run:
//
//	hash(name):  0 ............ cut ............ 2^64
//	             |  counted      |  not counted  |
//
// Each time more than nameCountLimit names are below the cut, the cut
// halves and the names above it are forgotten. The names below the final
// cut are those of the largest cut (2^64 / 2^k) that holds at most
// nameCountLimit names, whatever the order they came in, and each was
// counted from its first row. The most requested of them are kept.

// nameCountLimit bounds the names the first pass counts (a variable so
// that tests can lower it).
var nameCountLimit = 1 << 17

// sampled counts keys exactly, for the keys whose hash is below cut; at
// most limit of them, the cut halving past it.
type sampled[K comparable] struct {
	counts map[K]int64
	cut    uint64 // math.MaxUint64: every key counts
	limit  int
	hash   func(K) uint64
}

func newSampled[K comparable](limit int, hash func(K) uint64) *sampled[K] {
	return &sampled[K]{counts: map[K]int64{}, cut: math.MaxUint64, limit: limit, hash: hash}
}

func (s *sampled[K]) in(k K) bool { return s.cut == math.MaxUint64 || s.hash(k) < s.cut }

// add counts n for k and returns what was dropped: n itself when k is
// above the cut, or the counts of the keys the cut left behind.
func (s *sampled[K]) add(k K, n int64) (dropped int64) {
	if _, ok := s.counts[k]; !ok {
		if !s.in(k) {
			return n
		}
	}
	s.counts[k] += n
	return s.shrink()
}

// shrink halves the cut until at most limit keys are below it.
func (s *sampled[K]) shrink() (dropped int64) {
	for len(s.counts) > s.limit {
		s.cut /= 2
		for k, n := range s.counts {
			if !s.in(k) {
				dropped += n
				delete(s.counts, k)
			}
		}
	}
	return dropped
}

// merge adds o's counts (o is consumed) and returns what was dropped.
func (s *sampled[K]) merge(o *sampled[K]) (dropped int64) {
	s.cut = min(s.cut, o.cut)
	for k, n := range s.counts {
		if !s.in(k) {
			dropped += n
			delete(s.counts, k)
		}
	}
	for k, n := range o.counts {
		if !s.in(k) {
			dropped += n
			continue
		}
		s.counts[k] += n
	}
	return dropped + s.shrink()
}

func hashKey(k Key) uint64 {
	h := fnv.New64a()
	h.Write([]byte(k.Method))
	h.Write([]byte{0})
	h.Write([]byte(k.Name))
	return mix(h.Sum64())
}

// mix spreads FNV's bits (murmur3's finalizer): FNV's top bits barely
// change between names that differ in their last bytes, such as /n/1 and
// /n/2, and the cut compares the top bits first.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// mostRequested returns the maxNames keys with the most rows (ties by
// method, then name), or nil when there are no more than maxNames.
func mostRequested(counts map[Key]int64, sampled bool) map[Key]bool {
	if len(counts) <= maxNames && !sampled {
		return nil
	}
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(x, y Key) int {
		return cmp.Or(cmp.Compare(counts[y], counts[x]), cmp.Compare(x.Method, y.Method), cmp.Compare(x.Name, y.Name))
	})
	keep := map[Key]bool{}
	for _, k := range keys[:min(len(keys), maxNames)] {
		keep[k] = true
	}
	return keep
}

// AddFiles streams every row of the results files into a, the names kept
// chosen over all of them.
func (a *Aggregate) AddFiles(paths []string) error {
	fresh := len(a.byKey) == 0 && a.facts.files == 0 && a.keep == nil
	step := a.windows.step
	few, n, err := fewNames(paths)
	if err != nil {
		return err
	}
	a.names = n
	if !few || !fresh {
		if err := a.planNames(paths); err != nil {
			return err
		}
		a.names = len(a.keep) + 1 // and OtherName
	}
	for _, p := range paths {
		if err := a.addFile(p); err != nil {
			return err
		}
	}
	if a.overflowed && a.keep == nil && fresh {
		// The dictionaries did not tell the whole story (a writer that
		// stopped using one): count, and read again.
		*a = *New(step)
		if err := a.planNames(paths); err != nil {
			return err
		}
		a.names = len(a.keep) + 1
		for _, p := range paths {
			if err := a.addFile(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// fewNames says whether the files' dictionaries show at most maxNames
// method+name pairs (and how many: a bound), false when a row group's
// column has no dictionary.
func fewNames(paths []string) (bool, int, error) {
	methods, names := map[string]bool{}, map[string]bool{}
	for _, p := range paths {
		f, err := results.Open(p)
		if err != nil {
			return false, 0, err
		}
		ok, err := results.Distinct(f, "method", maxNames, methods)
		if err == nil && ok {
			ok, err = results.Distinct(f, "name", maxNames, names)
		}
		f.Close()
		if err != nil || !ok || len(methods)*len(names) > maxNames {
			return false, 0, err
		}
	}
	n := len(methods) * len(names)
	return n <= maxNames, n, nil
}

// planNames counts the rows per method and name of the files (the first
// pass) and sets the names kept.
func (a *Aggregate) planNames(paths []string) error {
	total := newSampled(nameCountLimit, hashKey)
	for _, p := range paths {
		f, err := results.Open(p)
		if err != nil {
			return err
		}
		err = countNames(f, total)
		f.Close()
		if err != nil {
			return err
		}
	}
	// Names already counted in a keep their rows.
	for k := range a.byKey {
		if k.Name != OtherName || k.Method != "" {
			total.counts[k] = math.MaxInt64 / 2
		}
	}
	a.keep = mostRequested(total.counts, total.cut != math.MaxUint64)
	if a.keep == nil {
		a.keep = map[Key]bool{}
		for k := range total.counts {
			a.keep[k] = true
		}
	}
	return nil
}

// countNames adds f's rows per method and name to total, one worker per
// core, reading only those two columns.
func countNames(f *pqfile.File, total *sampled[Key]) error {
	workers := max(min(runtime.GOMAXPROCS(0), f.NumRowGroups()), 1)
	parts := make([]*sampled[Key], workers)
	for w := range workers {
		parts[w] = newSampled(nameCountLimit, hashKey)
	}
	err := results.ScanBatches(f, results.ScanOptions{Workers: workers, Columns: []string{"method", "name"},
		Batch: func(w int, b *results.Batch) error {
			// Rows come in runs of one name: count a run at once.
			var last Key
			var run int64
			for i := range b.Len {
				if k := (Key{b.Method[i], b.Name[i]}); k != last || run == 0 {
					if run > 0 {
						parts[w].add(last, run)
					}
					last, run = k, 0
				}
				run++
			}
			if run > 0 {
				parts[w].add(last, run)
			}
			return nil
		}})
	if err != nil {
		return err
	}
	for _, p := range parts {
		total.merge(p)
	}
	return nil
}
