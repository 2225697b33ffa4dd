package relay

import "net/http"

// mediaRoutes registers the media routes (upload through the owner API,
// public serving).
func (r *Relay) mediaRoutes(mux *http.ServeMux) {}
