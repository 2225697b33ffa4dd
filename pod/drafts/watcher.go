package drafts

import (
	"fmt"

	"github.com/fsnotify/fsnotify"
)

// newWatcher watches the folder's top level (drafts are the files there;
// subfolders such as Published/ and photos/ are not drafts) and the
// hand-over requests directory.
func newWatcher(dirs ...string) (*fsnotify.Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch the drafts folder: %w", err)
	}
	for _, d := range dirs {
		if err := w.Add(d); err != nil {
			w.Close()
			return nil, fmt.Errorf("watch %s: %w", d, err)
		}
	}
	return w, nil
}
