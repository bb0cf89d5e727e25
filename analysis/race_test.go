//go:build race

package analysis

// raceEnabled shortens the tests of thousands of names: each worker
// holds every name's histograms, and the race detector makes merging
// them ten times slower.
const raceEnabled = true
