package eio

import "time"

// heartbeat pings every connection each PingInterval and closes those that
// do not answer within PingTimeout: one goroutine for all pages.
func (s *Server) heartbeat() {
	// Fine enough that a ping is never more than a second late (the
	// client gives the server PingInterval+PingTimeout), cheap enough: a
	// tick walks every connection once.
	tick := min(s.opts.PingInterval, s.opts.PingTimeout) / 20
	tick = min(max(tick, 10*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	var conns []*Conn
	var pings Batch
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			conns = s.snapshot(conns[:0])
			s.beat(conns, now.UnixNano(), &pings)
			pings.Flush(nil) // a page cut off here is gone: Disconnect runs
			clear(conns)
		}
	}
}

func (s *Server) snapshot(buf []*Conn) []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		buf = append(buf, c)
	}
	return buf
}

func (s *Server) beat(conns []*Conn, now int64, pings *Batch) {
	for _, c := range conns {
		if !c.connected.Load() && now-c.start.UnixNano() > s.opts.ConnectTimeout.Nanoseconds() {
			c.abort("connect timeout")
			continue
		}
		if by := c.pongBy.Load(); by != 0 {
			if now > by {
				c.abort("ping timeout")
			}
			continue
		}
		if now >= c.nextPing.Load() {
			c.pongBy.Store(now + s.opts.PingTimeout.Nanoseconds())
			c.nextPing.Store(now + s.opts.PingInterval.Nanoseconds())
			pings.Send(c, pingFrame)
		}
	}
}
