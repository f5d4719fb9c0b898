package rawsocket_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/wamp"
)

// The config FuzzRawSocket's server runs with: JSON and msgpack served, CBOR
// not (so that a known serializer is refused too), a 4 KiB handshake
// limit, a 64 KiB read limit (announced as length code 7), clients that
// accept at least 1 KiB.
var fuzzConfig = rawsocket.Config{
	Serializers:        []string{"json", "msgpack"},
	ReadLimit:          64 << 10,
	HandshakeReadLimit: 4 << 10,
	MinClientLength:    1 << 10,
	HandshakeTimeout:   5 * time.Second,
	WriteTimeout:       5 * time.Second,
}

// fuzzBound bounds how long the server may take to close a connection
// after the client half-closed it: every read of the server's then ends
// at once, so only a hang is over it.
const fuzzBound = 5 * time.Second

// Fuzz input flags (the first byte).
const (
	fuzzHandshake = 1 << 0 // a valid handshake (serializer in bits 1-2, length code 1 + bits 4-7 mod 15) instead of data[1:5]
	fuzzHello     = 1 << 3 // a HELLO for realm1 after the valid handshake
)

var fuzzSerializers = []byte{rawsocket.SerializerJSON, rawsocket.SerializerMsgpack, rawsocket.SerializerCBOR, rawsocket.SerializerJSON}

// fuzzWire is what a fuzz input writes on the connection: the handshake
// (valid, as the flags say, or the 4 bytes after them, as they are, maybe
// fewer), a HELLO if asked, then the rest as it is: frame prefixes and
// payloads, any bits, declared lengths longer than what follows.
func fuzzWire(data []byte) (wire []byte, hello bool) {
	flags, data := data[0], data[1:]
	if flags&fuzzHandshake == 0 {
		return data, false
	}
	ser := fuzzSerializers[flags>>1&3]
	h := []byte{rawsocket.Magic, (1+flags>>4%15)<<4 | ser, 0, 0}
	if flags&fuzzHello != 0 {
		msg, _ := codecOf(ser).Encode(&wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": wamp.Dict{
			"caller": wamp.Dict{}, "callee": wamp.Dict{}, "publisher": wamp.Dict{}, "subscriber": wamp.Dict{}}}})
		h = append(h, frame(rawsocket.FrameMessage, msg)...)
	}
	return append(h, data...), flags&fuzzHello != 0
}

func codecOf(ser byte) serializers.Serializer {
	s, _ := serializers.ByName(rawsocket.SerializerName(ser))
	return s
}

// prefix is a frame's prefix declaring n bytes.
func prefix(typ byte, n int) []byte {
	h := rawsocket.Header(typ, n)
	return h[:]
}

func frame(typ byte, payload []byte) []byte {
	h := rawsocket.Header(typ, len(payload))
	return append(h[:], payload...)
}

// expectedReply is the server's answer to a handshake request req (at most
// 4 bytes), from the spec: nothing to fewer than 4 bytes or a first octet
// that is not the magic; else an error reply for each rule it breaks (any
// of them is an answer the spec allows), or, breaking none, the accepting
// reply.
func expectedReply(req []byte) (accept []byte, refusals [][]byte) {
	if len(req) < 4 || req[0] != rawsocket.Magic {
		return nil, nil
	}
	ser, length := req[1]&0x0F, 1<<(9+int(req[1]>>4))
	if req[2] != 0 || req[3] != 0 {
		refusals = append(refusals, []byte{rawsocket.Magic, 0x30, 0, 0})
	}
	if !slices.Contains(fuzzConfig.Serializers, rawsocket.SerializerName(ser)) {
		refusals = append(refusals, []byte{rawsocket.Magic, 0x10, 0, 0})
	}
	if length < fuzzConfig.MinClientLength {
		refusals = append(refusals, []byte{rawsocket.Magic, 0x20, 0, 0})
	}
	if len(refusals) > 0 {
		return nil, refusals
	}
	return []byte{rawsocket.Magic, 7<<4 | ser, 0, 0}, nil // 64 KiB: code 7
}

// pings are the payloads of the PINGs in frames (what follows the
// handshake and HELLO), up to the first prefix the spec forbids.
func pings(frames []byte) [][]byte {
	var out [][]byte
	for len(frames) >= 4 {
		typ, n := frames[0]&0x07, int(binary.BigEndian.Uint32(frames[:4])&0x00FFFFFF)
		if frames[0]&0xF0 != 0 || typ > 2 || frames[0]&0x08 != 0 && n != 0 {
			break
		}
		if frames[0]&0x08 != 0 {
			n = 1 << 24
		}
		frames = frames[4:]
		if n > len(frames) {
			break
		}
		if typ == rawsocket.FramePing {
			out = append(out, frames[:n])
		}
		frames = frames[n:]
	}
	return out
}

// fuzzServer is a router with realm1 (anonymous) behind a RawSocket
// server on a Unix socket, and a probe session of its own. A Unix socket
// rather than TCP on loopback: the input's connection is half-closed by
// the client, which over TCP leaves its port in TIME-WAIT, and thousands
// of inputs a second use up the ephemeral ports within seconds.
type fuzzServer struct {
	s     *rawsocket.Server
	addr  string // the socket's path
	probe *rawsocket.Conn
	next  wamp.ID
}

func newFuzzRawSocketr(f *testing.F) *fuzzServer {
	r, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: "realm1", Anonymous: true}}}, router.Options{Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	s, err := rawsocket.NewServer(withEngine(fuzzConfig), r, rawsocket.Options{Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "rsfuzz")
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
	if err != nil {
		f.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	fs := &fuzzServer{s: s, addr: ln.Addr().String()}
	f.Cleanup(func() {
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
		s.CloseAll()
		if err := s.Shutdown(ctx); err != nil {
			f.Errorf("shutdown: %v", err)
		}
		<-done
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs.probe, err = rawsocket.Dial(ctx, rawsocket.Endpoint{Network: "unix", Address: fs.addr}, rawsocket.SerializerJSON, 0, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { fs.probe.Close() })
	if m := fs.probeSend(f, &wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": wamp.Dict{"caller": wamp.Dict{}}}}); m.MessageType() != wamp.WELCOME {
		f.Fatalf("probe: %v, want WELCOME", m.MessageType())
	}
	return fs
}

func (fs *fuzzServer) probeSend(t testing.TB, m wamp.Message) wamp.Message {
	t.Helper()
	json, _ := serializers.ByName("json")
	data, err := json.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	_ = fs.probe.NetConn().SetDeadline(time.Now().Add(fuzzBound))
	if err := fs.probe.WriteMessage(data); err != nil {
		t.Fatalf("probe: %v", err)
	}
	data, err = fs.probe.ReadMessage()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	reply, err := json.Decode(data)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	return reply
}

// check is the probe's view after an input: the input's connection is
// gone (the server holds no connection but the probe's, within fuzzBound)
// and a call is routed, in a realm of one session, the probe.
func (fs *fuzzServer) check(t *testing.T) {
	deadline := time.Now().Add(fuzzBound)
	for fs.s.Stats().Connections.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections held %s after the input's was closed, want the probe's only", fs.s.Stats().Connections.Load(), fuzzBound)
		}
		time.Sleep(100 * time.Microsecond) // poll interval: the server untracks a connection just after closing it
	}
	fs.next++
	res, ok := fs.probeSend(t, &wamp.Call{Request: fs.next, Options: wamp.Dict{}, Procedure: "wamp.session.count"}).(*wamp.Result)
	if !ok {
		t.Fatal("probe: wamp.session.count not answered with RESULT")
	}
	args, _, _ := serializers.DecodePayload(&res.Payload)
	if n, _ := wamp.AsInt(args[0]); n != 1 {
		t.Fatalf("%d sessions in realm1 after the input, want the probe only", n)
	}
}

// exchange writes wire on a new connection, half-closes it, and returns
// what the server sent until it closed the connection, and whether it
// reset it rather than closed it.
func (fs *fuzzServer) exchange(t *testing.T, wire []byte) (got []byte, reset bool) {
	c, err := net.Dial("unix", fs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(fuzzBound))
	written := make(chan struct{})
	go func() { // while the reply is read: the server may answer PINGs as they come
		defer close(written)
		_, _ = c.Write(wire) // the server may close before it has read it all
		_ = c.(*net.UnixConn).CloseWrite()
	}()
	got, err = io.ReadAll(io.LimitReader(c, 4<<20))
	<-written
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return got, true
	case err != nil:
		t.Fatalf("the server did not close the connection within %s of the client's half-close: %v", fuzzBound, err)
	case len(got) == 4<<20:
		t.Fatalf("the server sent 4 MiB for an input of %d bytes", len(wire))
	}
	return got, false
}

// FuzzRawSocket runs a router's RawSocket server (in process, on a Unix
// socket) on arbitrary input: a handshake (valid or any 4 bytes, or
// fewer), an optional HELLO, then any bytes as frames, and the connection
// half-closed. The server must not panic or hang (it closes within
// fuzzBound), must answer the handshake as the spec says (an error reply of
// a rule the request breaks, nothing for a wrong magic, the accepting
// reply otherwise), and after accepting must send only frames the spec
// allows no longer than the client announced: WAMP messages its
// serializer decodes, WELCOME first after a valid HELLO, and PONGs echoing
// the input's PINGs in order. Afterwards it holds no connection or session
// of the input's, and routes the probe's call.
func FuzzRawSocket(f *testing.F) {
	fs := newFuzzRawSocketr(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		wire, hello := fuzzWire(data)
		got, reset := fs.exchange(t, wire)
		checkReply(t, wire, got, reset, hello)
		fs.check(t)
	})
}

// checkReply checks what the server sent (got) for wire.
func checkReply(t *testing.T, wire, got []byte, reset, hello bool) {
	req := wire[:min(4, len(wire))]
	accept, refusals := expectedReply(req)
	switch {
	case accept == nil && refusals == nil:
		if len(got) > 0 {
			t.Fatalf("handshake % x: the server answered % x, want nothing", req, got[:min(len(got), 16)])
		}
		return
	case refusals != nil:
		for _, r := range refusals {
			// A reset (input left unread) may lose the reply.
			if bytes.Equal(got, r) || reset && bytes.HasPrefix(r, got) {
				return
			}
		}
		t.Fatalf("handshake % x: the server answered % x, want one of % x", req, got, refusals)
	case !bytes.HasPrefix(got, accept):
		t.Fatalf("handshake % x: the server answered % x, want % x", req, got[:min(len(got), 4)], accept)
	}
	checkFrames(t, req, wire[4:], got[4:], hello)
}

// checkFrames checks the frames the server sent after accepting req.
func checkFrames(t *testing.T, req, input, out []byte, hello bool) {
	ser, max := req[1]&0x0F, 1<<(9+int(req[1]>>4))
	codec := codecOf(ser)
	want := pings(input)
	messages := 0
	for len(out) > 0 {
		if len(out) < 4 {
			t.Fatalf("the server sent a cut prefix % x", out)
		}
		h := [4]byte(out[:4])
		typ, n, err := rawsocket.ParseHeader(h)
		switch {
		case err != nil:
			t.Fatalf("the server sent a prefix the spec forbids: % x: %v", h, err)
		case n > max:
			t.Fatalf("the server sent a frame of %d bytes to a client accepting %d", n, max)
		case n > len(out)-4:
			t.Fatalf("the server sent a cut frame: %d of %d bytes", len(out)-4, n)
		case typ == rawsocket.FramePong:
			if len(want) == 0 || !bytes.Equal(out[4:4+n], want[0]) {
				t.Fatalf("the server sent a PONG of %d bytes that echoes no PING of the input in order", n)
			}
			want = want[1:]
		case typ == rawsocket.FramePing:
			t.Fatalf("the server sent a PING within a fuzz input's lifetime (ping interval 30s)")
		default:
			m, err := codec.Decode(out[4 : 4+n])
			if err != nil {
				t.Fatalf("the server sent a message %s cannot decode: %v", codec.Name(), err)
			}
			if messages == 0 && hello && m.MessageType() != wamp.WELCOME {
				t.Fatalf("the answer to a valid HELLO is %v, want WELCOME", m.MessageType())
			}
			messages++
		}
		out = out[4+n:]
	}
	if hello && messages == 0 {
		t.Fatal("no WELCOME for a valid HELLO")
	}
}

// fuzzSeeds are FuzzRawSocket's seeds by name: handshakes valid and not,
// frames of each type, reserved bits and types, the 16 MiB length, cut
// frames (testdata/fuzz/FuzzRawSocket holds them as files, written by
// TestWriteFuzzRawSocketSeeds).
func fuzzSeeds() map[string][]byte {
	hs := func(flags byte) []byte { return []byte{flags} }
	const (
		open  = fuzzHandshake | 14<<4 // json, length code 1 + 14: 16 MiB
		valid = open | fuzzHello
		mp    = valid | 1<<1              // msgpack
		cbor  = valid | 2<<1              // not served
		small = fuzzHandshake | fuzzHello // json, length code 1: 1 KiB
	)
	publish := []byte(`[16,1,{"acknowledge":true},"fuzz.t",["x"]]`)
	call := []byte(`[48,2,{},"wamp.session.count",[]]`)
	sub := []byte(`[32,3,{},"fuzz.t"]`)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return map[string][]byte{
		"handshake_only":       hs(fuzzHandshake | 14<<4),
		"hello":                hs(valid),
		"hello_msgpack":        hs(mp),
		"hello_cbor_refused":   hs(cbor),
		"hello_1KiB_client":    hs(small),
		"pubsub_call":          cat(hs(valid), frame(0, sub), frame(0, publish), frame(0, call), frame(0, []byte(`[6,{},"wamp.close.normal"]`))),
		"ping_pong":            cat(hs(valid), frame(1, []byte("ping")), frame(2, []byte("pong")), frame(1, nil)),
		"ping_before_hello":    cat(hs(open), frame(1, []byte("early")), frame(0, []byte(`[1,"realm1",{"roles":{"caller":{}}}]`))),
		"ping_too_large":       cat(hs(small), frame(1, make([]byte, 2000))),
		"reserved_bits":        cat(hs(valid), []byte{0x10, 0, 0, 2}, []byte("[]")),
		"reserved_type":        cat(hs(valid), []byte{0x05, 0, 0, 2}, []byte("[]")),
		"x_bit_and_length":     cat(hs(valid), []byte{0x08, 0, 0, 2}, []byte("[]")),
		"length_16MiB":         cat(hs(valid), []byte{0x08, 0, 0, 0}, []byte(`[16,1,{},"t"]`)),
		"over_read_limit":      cat(hs(valid), prefix(0, 64<<10+1), []byte("[")),
		"over_handshake_limit": cat(hs(open), prefix(0, 4<<10+1), []byte("[1,")),
		"cut_frame":            cat(hs(valid), prefix(0, 100), []byte(`[16,1,{},`)),
		"cut_prefix":           cat(hs(valid), []byte{0, 0}),
		"not_wamp":             cat(hs(valid), frame(0, []byte(`{"x":1}`))),
		"hello_twice":          cat(hs(valid), frame(0, []byte(`[1,"realm1",{"roles":{"caller":{}}}]`))),
		"raw_valid":            cat([]byte{0}, []byte{0x7F, 0xF1, 0, 0}, frame(0, []byte(`[1,"realm1",{"roles":{"caller":{}}}]`)), frame(0, call)),
		"raw_reserved":         {0, 0x7F, 0xF1, 0, 1},
		"raw_serializer_0":     {0, 0x7F, 0xF0, 0, 0},
		"raw_serializer_5":     {0, 0x7F, 0xF5, 0, 0},
		"raw_length_512":       {0, 0x7F, 0x01, 0, 0},
		"raw_wrong_magic":      cat([]byte{0}, []byte("GET / HTTP/1.1\r\n\r\n")),
		"raw_cut_handshake":    {0, 0x7F, 0xF1},
		"raw_refused_trailing": cat([]byte{0, 0x7F, 0xF3, 0, 0}, bytes.Repeat([]byte{1}, 2000)),
	}
}

// TestWriteFuzzRawSocketSeeds writes FuzzRawSocket's seed corpus when
// RAWSOCKET_WRITE_SEEDS is set.
func TestWriteFuzzRawSocketSeeds(t *testing.T) {
	if os.Getenv("RAWSOCKET_WRITE_SEEDS") == "" {
		t.Skip("RAWSOCKET_WRITE_SEEDS not set")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRawSocket")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, input := range fuzzSeeds() {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(input)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
