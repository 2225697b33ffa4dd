package relay

import "net/http"

// publishedRoutes registers the routes for pre-signed public entities
// (publish through the owner API, /fetch, /posts, the Atom feed).
func (r *Relay) publishedRoutes(mux *http.ServeMux) {}
