package store

// Drafts projection. Owned by the drafts area.

func (tx *Tx) projectDraft(id string) error { return nil }
