package store

// Posts, photos and retractions projections. Owned by the posts area.

func (tx *Tx) projectPost(guid string) error       { return nil }
func (tx *Tx) projectPhoto(guid string) error      { return nil }
func (tx *Tx) projectRetraction(guid string) error { return nil }
