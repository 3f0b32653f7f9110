package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
	"github.com/zishang520/socket.io/v3/pkg/utils"
)

// The library path speaks connection state recovery through the library
// itself: with recovery on, it puts a pid in its CONNECT answer and, for a
// page that comes back with {pid, offset}, asks its adapter to restore the
// session. journalAdapter answers from herald's journal: a pid the journal
// knows is restored with the same pid (so the client's socket.recovered is
// true) and no packets; what the page missed is replayed by the page model
// (recover), exactly as on the native path. The library keeps no packets
// and no sessions of its own.

// libraryRecovery turns the library's recovery on, backed by the journal.
func (s *Sink) libraryRecovery(o *socket.ServerOptions) {
	csr := &socket.ConnectionStateRecovery{}
	csr.SetSkipMiddlewares(true)
	o.SetConnectionStateRecovery(csr)
	o.SetAdapter(&journalAdapterBuilder{s: s})
	o.SetParser(pidParser{parser.NewParser()})
}

// pidParser lets the library restore the session of a page that sent its
// pid without an offset. socket.io-client sends the offset of the last
// alert it received, so a page that received none in its session has no
// offset to send; the library would then give it a new session (it
// restores only {pid, offset} with a non-empty offset), where herald
// recovers it from the session start, as the native path does. The
// decoder adds noOffset to such a CONNECT, which lookup reads as none.
type pidParser struct{ parser.Parser }

// noOffset stands for "no offset" where the library needs one; it is no
// position (journal.ParsePosition refuses it), so no page can mean more.
const noOffset = "none"

func (p pidParser) NewDecoder() parser.Decoder { return pidDecoder{p.Parser.NewDecoder()} }

type pidDecoder struct{ parser.Decoder }

func (d pidDecoder) Add(data any) error {
	switch v := data.(type) {
	case *types.StringBuffer:
		if b, ok := withNoOffset(v.Bytes()); ok {
			data = string(b)
		}
	case string:
		if b, ok := withNoOffset([]byte(v)); ok {
			data = string(b)
		}
	}
	return d.Decoder.Add(data)
}

// withNoOffset rewrites a main-namespace CONNECT packet whose auth has
// a pid and no offset (none, null, "" or not a string: what the library
// would not restore); ok is false for every other packet, left as it is.
func withNoOffset(packet []byte) (_ []byte, ok bool) {
	if len(packet) < 2 || packet[0] != '0' || packet[1] != '{' {
		return nil, false
	}
	var auth map[string]any
	dec := json.NewDecoder(bytes.NewReader(packet[1:]))
	dec.UseNumber() // numbers in the auth go on unchanged
	if dec.Decode(&auth) != nil || dec.InputOffset() != int64(len(packet)-1) {
		return nil, false
	}
	if _, hasPID := auth["pid"].(string); !hasPID {
		return nil, false
	}
	if offset, _ := auth["offset"].(string); offset != "" {
		return nil, false // the library restores it as it is
	}
	auth["offset"] = noOffset
	b, err := json.Marshal(auth)
	if err != nil {
		return nil, false
	}
	return append([]byte{'0'}, b...), true
}

type journalAdapterBuilder struct{ s *Sink }

func (b *journalAdapterBuilder) New(nsp socket.Namespace) socket.Adapter {
	a := &journalAdapter{Adapter: socket.MakeAdapter(), s: b.s}
	a.Prototype(a)
	a.Construct(nsp)
	return a
}

type journalAdapter struct {
	socket.Adapter
	s *Sink
}

// PersistSession does nothing: herald keeps sessions in its journal.
func (*journalAdapter) PersistSession(*socket.SessionToPersist) {}

// RestoreSession restores a pid the journal knows, with the socket id of
// its session when no page here holds it (nor a library socket not yet a
// page), else a fresh one. Unlike the native path's claimID this checks
// and does not take: the page is made later, from the library's socket; two
// such restores of one session at the same moment may share an id (in
// /clients only: nothing herald does goes by it).
func (a *journalAdapter) RestoreSession(pid socket.PrivateSessionId, _ string) (*socket.Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	sid, ok := a.s.recovery.Known(ctx, string(pid))
	if !ok {
		return nil, nil
	}
	if _, taken := a.Nsp().Sockets().Load(socket.SocketId(sid)); taken || sid == "" || !a.s.rooms.idFree(sid) {
		sid = utils.Base64Id().GenerateId()
	}
	return &socket.Session{SessionToPersist: &socket.SessionToPersist{
		Sid: socket.SocketId(sid), Pid: pid, Rooms: types.NewSet[socket.Room](),
	}}, nil
}

// libraryPID reads the pid the library gave sock in its CONNECT answer.
// The library has no accessor for it; the field is read (never written)
// by reflection, and TestLibraryPIDIsReadable fails if an update of the
// pinned library renames it.
func libraryPID(sock *socket.Socket) string {
	v := reflect.ValueOf(sock).Elem().FieldByName("pid")
	if !v.IsValid() || v.Kind() != reflect.String {
		return ""
	}
	return v.String()
}

// reflectField reports whether sock has a string field name.
func reflectField(sock *socket.Socket, name string) (reflect.StructField, bool) {
	f, ok := reflect.TypeOf(sock).Elem().FieldByName(name)
	return f, ok && f.Type.Kind() == reflect.String
}
