//go:build !race

// Package race says whether the race detector is on: the tests that
// measure the heap (which its instrumentation inflates) or do heavy
// single-goroutine work (which it slows tenfold, and where it has no race
// to find) run without it; scripts/test.sh runs those packages once more
// without the detector.
package race

// Enabled says the race detector is on.
const Enabled = false
