package hostile

import (
	"bytes"
	"compress/flate"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/junction-wamp/junction/clientlib"
)

// Fuzz input flags (the first byte).
const (
	fuzzHello   = 1 << iota // join realm1 before the frames
	fuzzDeflate             // offer permessage-deflate
	fuzzMsgPack             // wamp.2.msgpack instead of wamp.2.json
)

// FuzzFrames sends arbitrary WebSocket frame sequences (FuzzWire: header
// bits, opcodes, lengths, masks, fragments, payloads) over a raw TCP
// connection after a valid upgrade, optionally after joining, to one
// junction process; after each input the process is up and a bystander is
// served. The connection is half-closed after the frames, and the input is
// over when the router has closed it.
func FuzzFrames(f *testing.F) {
	j := start(f, "")
	b := NewBystander(f, j.URL(), "realm1", clientlib.Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		flags := data[0]
		c := dialTCP(t, j.Addr, "127.0.0.1")
		protocol, hello := "wamp.2.json", Masked(OpText, []byte(`[1,"realm1",{"roles":{"publisher":{},"subscriber":{},"caller":{},"callee":{}}}]`))
		if flags&fuzzMsgPack != 0 {
			msg, _ := MsgPack.Marshal([]any{HELLO, "realm1", map[string]any{"roles": Roles}})
			protocol, hello = "wamp.2.msgpack", Masked(OpBinary, msg)
		}
		if err := c.upgrade(j.Addr, protocol, flags&fuzzDeflate != 0); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		if flags&fuzzHello != 0 {
			if _, err := c.Write(hello.Encode()); err != nil {
				t.Fatal(err)
			}
			if err := c.skipFrame(); err != nil { // WELCOME
				t.Fatalf("no WELCOME: %v", err)
			}
		}
		_, _ = c.Write(FuzzWire(data[1:])) // the router may close before reading it all
		if err := c.closeWriteAndWait(); err != nil {
			t.Fatal(err)
		}
		j.Alive(t)
		b.Check(t)
	})
}

// TestWriteFuzzFramesSeeds writes FuzzFrames' seed corpus when
// HOSTILE_WRITE_SEEDS is set (go test -run TestWriteFuzzFramesSeeds).
func TestWriteFuzzFramesSeeds(t *testing.T) {
	if os.Getenv("HOSTILE_WRITE_SEEDS") == "" {
		t.Skip("HOSTILE_WRITE_SEEDS not set")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzFrames")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, input := range fuzzSeeds() {
		body := "go test fuzz v1\n[]byte(" + quoteBytes(input) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func quoteBytes(b []byte) string { return strconv.Quote(string(b)) }

// deflated is msg compressed as a permessage-deflate message.
func deflated(msg []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	_, _ = w.Write(msg)
	_ = w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// fuzzSeeds are FuzzFrames' seeds by file name: well-formed traffic and
// each kind of frame RFC 6455 forbids.
func fuzzSeeds() map[string][]byte {
	publish := []byte(`[16,1,{"acknowledge":true},"app.t",["x"]]`)
	mpPublish, _ := MsgPack.Marshal([]any{PUBLISH, 1, map[string]any{}, "app.t", []any{1}})
	huge := uint64(1) << 62
	short := uint64(100)
	return map[string][]byte{
		"publish":            FuzzInput(fuzzHello, Masked(OpText, publish)),
		"hello_fragmented":   FuzzInput(0, Frame{Opcode: OpText, Masked: true, Payload: []byte(`[1,"realm1",`)}, Masked(OpPing, []byte("in between")), Frame{Fin: true, Opcode: OpContinuation, Masked: true, Payload: []byte(`{"roles":{"caller":{}}}]`)}),
		"ping_pong_close":    FuzzInput(fuzzHello, Masked(OpPing, []byte("ping")), Masked(OpPong, []byte("pong")), Masked(OpClose, []byte{0x03, 0xe8, 'b', 'y', 'e'})),
		"deflate_publish":    FuzzInput(fuzzHello|fuzzDeflate, Frame{Fin: true, RSV: 4, Opcode: OpText, Masked: true, Payload: deflated(publish)}),
		"msgpack_publish":    FuzzInput(fuzzHello|fuzzMsgPack, Masked(OpBinary, mpPublish)),
		"text_on_msgpack":    FuzzInput(fuzzHello|fuzzMsgPack, Masked(OpText, publish)),
		"rsv2":               FuzzInput(fuzzHello, Frame{Fin: true, RSV: 2, Opcode: OpText, Masked: true, Payload: publish}),
		"reserved_opcode":    FuzzInput(fuzzHello, Masked(0x3, publish), Masked(0xB, nil)),
		"long_control":       FuzzInput(fuzzHello, Masked(OpPing, bytes.Repeat([]byte("p"), 126))),
		"fragmented_control": FuzzInput(fuzzHello, Frame{Opcode: OpPing, Masked: true, Payload: []byte("p")}),
		"unmasked":           FuzzInput(fuzzHello, Frame{Fin: true, Opcode: OpText, Payload: publish}),
		"bad_close_code":     FuzzInput(fuzzHello, Masked(OpClose, []byte{0x03, 0xed})),
		"continuation_first": FuzzInput(fuzzHello, Masked(OpContinuation, publish)),
		"huge_length":        FuzzInput(fuzzHello, Frame{Fin: true, Opcode: OpText, Masked: true, Length: &huge}),
		"truncated":          FuzzInput(0, Frame{Fin: true, Opcode: OpText, Masked: true, Length: &short, Payload: []byte("[1,")}),
		"invalid_utf8":       FuzzInput(fuzzHello, Masked(OpText, []byte("[16,1,{},\"app.t\",[\"\xff\"]]"))),
		"junk":               {0, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x7f, 0xff},
	}
}
