package web

// routesDrafts registers the drafts area's routes. Owned by the drafts area.
func (s *Server) routesDrafts() {}
