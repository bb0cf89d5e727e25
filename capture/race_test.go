//go:build race

package capture

// raceEnabled shortens the tests that move gigabytes: the race detector
// makes them ten times slower.
const raceEnabled = true
