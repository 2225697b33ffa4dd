package store

// Conversations, messages and notifications projections. Owned by the
// conversations area.

func (tx *Tx) projectConversation(guid string) error { return nil }
func (tx *Tx) projectMessage(guid string) error      { return nil }

// projectNotifications runs after every change's area projection and
// recomputes the notifications it may affect.
func (tx *Tx) projectNotifications(c Change) error { return nil }
