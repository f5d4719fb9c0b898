package main

import (
	"bufio"
	"io"
	"net"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport/rawsocket"
)

// serveRawSocket accepts RawSocket connections on ln and answers on each,
// on a goroutine of its own, until ln fails.
func serveRawSocket(ln net.Listener, raw bool) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go echoRawSocket(c, raw)
	}
}

// echoRawSocket shakes hands (any serializer, 16 MiB both ways) and
// answers each message as the WebSocket echo does: through answer, or with
// raw and JSON, by rewriting a CALL's header in the read buffer. Each
// answer is one writev: prefix and message, as the router writes its
// frames. PINGs and PONGs are not expected, and end the connection.
func echoRawSocket(c net.Conn, raw bool) {
	defer c.Close()
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return
	}
	h, err := rawsocket.ParseRequest(req)
	ser, ok := serializers.ByName(rawsocket.SerializerName(h.Serializer))
	if err != nil || !ok {
		reply := rawsocket.ErrorReply(rawsocket.ErrSerializerUnsupported)
		_, _ = c.Write(reply[:])
		return
	}
	reply := rawsocket.Handshake{Serializer: h.Serializer, MaxLength: rawsocket.MaxLength}.Bytes()
	if _, err := c.Write(reply[:]); err != nil {
		return
	}
	br := bufio.NewReaderSize(c, 4096)
	buf := make([]byte, 64<<10)
	var hdrs [2][rawsocket.HeaderLen]byte
	for {
		var data []byte
		if raw {
			data, err = readFrameInto(br, &buf)
		} else {
			var typ byte
			typ, data, err = rawsocket.ReadFrame(br, rawsocket.MaxLength)
			if err == nil && typ != rawsocket.FrameMessage {
				return
			}
		}
		if err != nil {
			return
		}
		if raw && ser.Name() == "json" {
			if id, rest, ok := splitJSONCall(data); ok {
				hdrs[0] = rawsocket.Header(rawsocket.FrameMessage, len(resultStart)+len(id)+len(resultOptions)+len(rest))
				bufs := net.Buffers{hdrs[0][:], resultStart, id, resultOptions, rest}
				if _, err := bufs.WriteTo(c); err != nil {
					return
				}
				continue
			}
		}
		b, end, err := answer(ser, data)
		if err != nil || end {
			return
		}
		if b == nil {
			continue
		}
		hdrs[1] = rawsocket.Header(rawsocket.FrameMessage, len(b))
		bufs := net.Buffers{hdrs[1][:], b}
		if _, err := bufs.WriteTo(c); err != nil {
			return
		}
	}
}

// readFrameInto reads the next frame, a message, into *buf, grown when it
// does not fit, and returns the part of it that holds the message.
func readFrameInto(br *bufio.Reader, buf *[]byte) ([]byte, error) {
	var h [rawsocket.HeaderLen]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	typ, n, err := rawsocket.ParseHeader(h)
	if err != nil {
		return nil, err
	}
	if typ != rawsocket.FrameMessage {
		return nil, rawsocket.ErrFrame
	}
	if n > len(*buf) {
		*buf = make([]byte, n)
	}
	_, err = io.ReadFull(br, (*buf)[:n])
	return (*buf)[:n], err
}
