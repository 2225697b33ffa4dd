package web

// routesConversations registers the conversations area's routes. Owned by the conversations area.
func (s *Server) routesConversations() {}
