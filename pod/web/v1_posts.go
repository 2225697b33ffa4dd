package web

// routesPosts registers the posts area's routes. Owned by the posts area.
func (s *Server) routesPosts() {}
