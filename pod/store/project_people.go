package store

// People, aspects and contacts projections. Owned by the people area.

// projectAspect recomputes the aspects row of one aspect id from the
// aspect/<id>/name and aspect/<id>/order fields.
func (tx *Tx) projectAspect(id string) error { return nil }

// projectContact recomputes the contacts row of one person guid from
// aspect membership (receiving) and their Contact entities (sharing).
func (tx *Tx) projectContact(personGUID string) error { return nil }

// projectPerson recomputes the people row of a handle from its "person"
// and "profile" records, and its contact row.
func (tx *Tx) projectPerson(handle string) error { return nil }
