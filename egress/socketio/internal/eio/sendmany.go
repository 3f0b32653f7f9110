package eio

// SendMany queues fs to the page in order, as Send does each, but in one
// step: when the socket is free they go out in one write (a node that
// receives several alerts for a room at once, under load, writes each page
// once instead of once per alert). It reports false if the connection is
// closed or the frames overflow the page's queue (the page is then cut
// off, as by Send).
func (c *Conn) SendMany(fs []*Frame) bool {
	if len(fs) == 0 {
		return true
	}
	return c.send(fs, nil)
}
