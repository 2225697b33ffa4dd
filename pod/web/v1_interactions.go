package web

// routesInteractions registers the interactions area's routes. Owned by the interactions area.
func (s *Server) routesInteractions() {}
