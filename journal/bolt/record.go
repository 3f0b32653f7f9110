package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
)

// recordVersion is the first byte of every entry record; a store refuses
// records of a version it does not know instead of misreading them.
const recordVersion = 1

// maxCount bounds a record's counters; marks saturate there. It is the
// largest int on every platform, so herald builds for 32-bit ARM too.
const maxCount = 1<<31 - 1

func clampCount(n int) int { return min(max(0, n), maxCount) }

// maxUnix bounds a record's times (Unix seconds either way, about 34,000
// years): beyond it time.Unix no longer round-trips.
const maxUnix = 1 << 40

var errShortRecord = errors.New("record truncated")

// encodeRecord appends e's record to b. The form is small and fixed:
//
//	version byte (1)
//	uvarint offset, time at, uvarint reached, uvarint acked
//	string event id, source, room, name, rule
//	time delivery time
//	bytes payload as JSON (empty for no payload)
//
// where a string or bytes is a uvarint length then the bytes, and a time
// is a varint of Unix seconds then a uvarint of nanoseconds (which keeps
// the zero time). The payload stays JSON: it is what the page receives,
// and its values are JSON values by contract.
func encodeRecord(b []byte, e journal.Entry) ([]byte, error) {
	body, err := encodeBody(e.Delivery)
	if err != nil {
		return nil, err
	}
	return append(encodeHead(b, e.Offset, e.At, e.Reached, e.Acked), body...), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// decodeRecord reads a record written by encodeRecord. Times come back in
// UTC; Delivery.Offset is the entry's offset. Any malformed record is an
// error, never a panic: the file is outside input once a disk misbehaves.
func decodeRecord(b []byte) (journal.Entry, error) {
	r := reader{b: b}
	if v := r.byte(); r.err == nil && v != recordVersion {
		return journal.Entry{}, fmt.Errorf("record version %d, want %d", v, recordVersion)
	}
	var e journal.Entry
	e.Offset = r.uvarint()
	e.At = r.time()
	e.Reached = r.count()
	e.Acked = r.count()
	d := &e.Delivery
	d.EventID, d.Source, d.Room, d.Name, d.Rule = r.string(), r.string(), r.string(), r.string(), r.string()
	d.Time = r.time()
	payload := r.string()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the record", len(r.b))
	}
	if r.err != nil {
		return journal.Entry{}, fmt.Errorf("decode record: %w", r.err)
	}
	if payload != "" {
		if err := json.Unmarshal([]byte(payload), &d.Payload); err != nil {
			return journal.Entry{}, fmt.Errorf("decode record payload: %w", err)
		}
	}
	d.Offset = e.Offset
	return e, nil
}

// reader consumes a record; the first error sticks and later reads return
// zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errShortRecord
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShortRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShortRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a counter that must fit an int.
func (r *reader) count() int {
	v := r.uvarint()
	if v > maxCount {
		r.fail("counter %d out of range", v)
		return 0
	}
	return int(v)
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) { // a corrupt length never allocates more than the record

		r.fail("field of %d bytes, %d left", n, len(r.b))
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) time() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	if r.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 || sec > maxUnix || sec < -maxUnix {
		r.fail("time %d.%09d out of range", sec, nsec)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// sessionSince marks a session value that starts with Since,
// sessionFormerly one with Since and then Formerly, and sessionSID one
// with Since, Formerly (maybe empty) and then SID. The first values had
// expiry then code; an expiry's first byte is never one of these (it
// would be the one-byte varint -1, -2 or -3, a time in 1969), so all
// decode.
const (
	sessionSince    = 0x01
	sessionFormerly = 0x03
	sessionSID      = 0x05
)

// encodeSession is a session's value: the marker, Since, Formerly and SID
// as the marker says, expiry, code.
func encodeSession(s journal.Session) []byte {
	var b []byte
	switch {
	case s.SID != "":
		b = binary.AppendUvarint([]byte{sessionSID}, s.Since)
		b = appendString(appendString(b, s.Formerly), s.SID)
	case s.Formerly != "":
		b = binary.AppendUvarint([]byte{sessionFormerly}, s.Since)
		b = appendString(b, s.Formerly)
	default:
		b = binary.AppendUvarint([]byte{sessionSince}, s.Since)
	}
	return append(appendTime(b, s.Expires), s.Code...)
}

func decodeSession(pid string, b []byte) (journal.Session, error) {
	r := reader{b: b}
	s := journal.Session{PID: pid}
	if len(b) > 0 {
		switch b[0] {
		case sessionSince:
			r.b = b[1:]
			s.Since = r.uvarint()
		case sessionFormerly:
			r.b = b[1:]
			s.Since = r.uvarint()
			if s.Formerly = r.string(); s.Formerly == "" {
				r.fail("empty former session id")
			}
		case sessionSID:
			r.b = b[1:]
			s.Since = r.uvarint()
			s.Formerly = r.string()
			if s.SID = r.string(); s.SID == "" {
				r.fail("empty socket id")
			}
		}
	}
	s.Expires = r.time()
	if r.err != nil {
		return journal.Session{}, fmt.Errorf("decode session: %w", r.err)
	}
	s.Code = string(r.b)
	return s, nil
}

// encodeBody is the part of a record that does not depend on where the
// entry lands (everything after the counters); Append encodes it before it
// joins a commit, so the shared transaction only stitches bytes.
func encodeBody(d herald.Delivery) ([]byte, error) {
	var payload []byte
	if d.Payload != nil {
		var err error
		if payload, err = json.Marshal(d.Payload); err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
	}
	var b []byte
	for _, s := range []string{d.EventID, d.Source, d.Room, d.Name, d.Rule} {
		b = appendString(b, s)
	}
	b = appendTime(b, d.Time)
	return appendString(b, string(payload)), nil
}

// encodeHead appends the record's version and counters to b.
func encodeHead(b []byte, offset uint64, at time.Time, reached, acked int) []byte {
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, offset)
	b = appendTime(b, at)
	b = binary.AppendUvarint(b, uint64(clampCount(reached)))
	return binary.AppendUvarint(b, uint64(clampCount(acked)))
}

// peek is what the in-memory index and Find need from a record: its
// place, time and counters, its room and event id, without decoding the
// payload.
type peek struct {
	offset         uint64
	at             time.Time
	reached, acked int
	eventID        string
	room           string
}

// peekRecord reads a record's peek.
func peekRecord(b []byte) (peek, error) {
	r := reader{b: b}
	if v := r.byte(); r.err == nil && v != recordVersion {
		return peek{}, fmt.Errorf("record version %d, want %d", v, recordVersion)
	}
	var p peek
	p.offset = r.uvarint()
	p.at = r.time()
	p.reached, p.acked = r.count(), r.count()
	p.eventID = r.string()
	r.string() // source
	p.room = r.string()
	if r.err != nil {
		return peek{}, fmt.Errorf("decode record: %w", r.err)
	}
	return p, nil
}

// setCounts returns record b with its counters set to reached and acked,
// copying the rest of the record as it is: writing a mark decodes no
// payload. The counts are absolute (the index holds the running totals),
// so writing the same mark twice is harmless.
func setCounts(b []byte, reached, acked int) ([]byte, error) {
	r := reader{b: b}
	if v := r.byte(); r.err == nil && v != recordVersion {
		return nil, fmt.Errorf("record version %d, want %d", v, recordVersion)
	}
	off := r.uvarint()
	at := r.time()
	r.count()
	r.count()
	if r.err != nil {
		return nil, fmt.Errorf("decode record: %w", r.err)
	}
	head := encodeHead(make([]byte, 0, 32+len(r.b)), off, at, reached, acked)
	return append(head, r.b...), nil
}
