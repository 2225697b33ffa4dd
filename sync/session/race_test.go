//go:build race

package session

// raceEnabled: the race detector slows SQLite (transpiled C) tenfold, so
// the property test runs fewer seeds under it.
const raceEnabled = true
