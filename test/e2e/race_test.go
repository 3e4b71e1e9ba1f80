//go:build race

package e2e

// raceEnabled is true when the tests run with -race: the worker binaries
// TestMain builds are then built with -race too, so that a data race in
// the worker side of the library fails the test that provoked it.
const raceEnabled = true
