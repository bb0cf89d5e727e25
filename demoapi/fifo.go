package demoapi

import "sync"

// fifo is a map that holds at most limit entries: adding one more drops
// the oldest. It keeps the server's memory bounded however many tokens,
// sessions or idempotency keys a load test makes up. It is safe for
// concurrent use.
type fifo[V any] struct {
	mu    sync.Mutex
	limit int
	m     map[string]V
	order []string // keys, oldest first
}

func newFIFO[V any](limit int) *fifo[V] {
	return &fifo[V]{limit: limit, m: map[string]V{}}
}

// get returns the value under key.
func (f *fifo[V]) get(key string) (V, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[key]
	return v, ok
}

// put stores v under key, dropping the oldest entries beyond the limit.
func (f *fifo[V]) put(key string, v V) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putLocked(key, v)
}

// getOrPut returns the value under key if there is one (true), else
// stores v under it (false): one step, so two callers with the same key
// cannot both store.
func (f *fifo[V]) getOrPut(key string, v V) (V, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.m[key]; ok {
		return old, true
	}
	f.putLocked(key, v)
	return v, false
}

func (f *fifo[V]) putLocked(key string, v V) {
	if _, ok := f.m[key]; !ok {
		f.order = append(f.order, key)
	}
	f.m[key] = v
	for len(f.order) > f.limit {
		delete(f.m, f.order[0])
		// Slicing off the front leaks nothing for long: append copies the
		// live part into a new array when capacity runs out.
		f.order = f.order[1:]
	}
}
