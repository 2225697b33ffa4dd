package web

// routesPeople registers the people area's routes. Owned by the people area.
func (s *Server) routesPeople() {}
