package store

// Domain projections: the tables the API reads (aspects, people, posts,
// comments, …), derived from the generic fold. Each projection recomputes
// the rows of one key from the st_* tables, never incrementally, so it is
// as order-independent as the fold itself.

// projectionTables are cleared by a refold and rebuilt by the projections.
var projectionTables = []string{}

// project updates the domain tables for one change.
func (tx *Tx) project(c Change) error {
	return nil
}
