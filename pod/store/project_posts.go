package store

// Posts, photos, comments, likes, poll votes and retractions projections.
// Owned by the posts area.

func (tx *Tx) projectPost(guid string) error       { return nil }
func (tx *Tx) projectPhoto(guid string) error      { return nil }
func (tx *Tx) projectComment(guid string) error    { return nil }
func (tx *Tx) projectLike(guid string) error       { return nil }
func (tx *Tx) projectPollVote(guid string) error   { return nil }
func (tx *Tx) projectRetraction(guid string) error { return nil }
