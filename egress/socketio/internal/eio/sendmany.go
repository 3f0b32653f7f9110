package eio

// SendMany queues fs to the page in order, as Send does each, but in one
// step: when the socket is free they go out in one write (a node that
// receives several alerts for a room at once, under load, writes each page
// once instead of once per alert). It reports false if the connection is
// closed or the frames overflow the page's queue (the page is then cut
// off, as by Send).
func (c *Conn) SendMany(fs []*Frame) bool {
	switch len(fs) {
	case 0:
		return true
	case 1:
		return c.Send(fs[0])
	}
	size := 0
	for _, f := range fs {
		size += len(f.b)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if c.queued+size > c.srv.opts.QueueBytes && c.queued > 0 {
		c.mu.Unlock()
		c.abort("send queue full")
		return false
	}
	if !c.writing && c.raw != nil {
		c.writing = true // the socket is ours until we hand it back
		c.mu.Unlock()
		b := make([]byte, 0, size)
		for _, f := range fs {
			b = append(b, f.b...)
		}
		return c.sendInline(b)
	}
	for _, f := range fs {
		c.queue = append(c.queue, f.b)
	}
	c.queued += size
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		go c.flush()
	}
	return true
}
