package store

// Comments, likes and poll votes projections. Owned by the interactions area.

func (tx *Tx) projectComment(guid string) error  { return nil }
func (tx *Tx) projectLike(guid string) error     { return nil }
func (tx *Tx) projectPollVote(guid string) error { return nil }
