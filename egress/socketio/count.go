package socketio

import "time"

// Pages is the number of pages registered in room on this node: the
// node's own share of a cluster-wide count (broker/redis presence).
func (s *Sink) Pages(room string) int { return s.rooms.count(room) }

// Held reports whether a page of this node is in room, or left it within
// egress.HeldFor (egress.Holder).
func (s *Sink) Held(room string) bool {
	return s.rooms.held(room, time.Now())
}

// OnRoomsChanged sets fn to be called after a page joins or leaves a room
// (egress.RoomWatcher), so cluster presence is written at once instead of
// at its next interval. fn must not block.
func (s *Sink) OnRoomsChanged(fn func()) { s.onRooms.Store(&fn) }

func (s *Sink) roomsChanged() {
	if fn := s.onRooms.Load(); fn != nil {
		(*fn)()
	}
}

// Rooms is the number of registered pages per room on this node, for the
// presence records of cluster mode.
func (s *Sink) Rooms() map[string]int {
	s.rooms.mu.RLock()
	defer s.rooms.mu.RUnlock()
	out := make(map[string]int, len(s.rooms.byCode))
	for code, members := range s.rooms.byCode {
		out[code] = len(members)
	}
	return out
}
