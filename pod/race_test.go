//go:build race

package pod

// raceEnabled: the race detector slows SQLite (transpiled C) about tenfold;
// the three-pod convergence test then runs fewer seeds (make test also runs
// it without the detector, with 200).
const raceEnabled = true
