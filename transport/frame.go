package transport

import (
	"sync"

	"github.com/gorilla/websocket"
)

// Frame is one encoded message shared by every recipient of a fan-out that uses
// the same serializer. A transport that compresses frames compresses it once:
// Prepared returns a gorilla/websocket PreparedMessage, created on first use,
// which caches the framed (and deflated) bytes for all connections.
type Frame struct {
	Data   []byte
	Binary bool

	once     sync.Once
	prepared *websocket.PreparedMessage
	err      error
}

// NewFrame returns a frame of encoded message bytes.
func NewFrame(data []byte, binary bool) *Frame { return &Frame{Data: data, Binary: binary} }

// Prepared returns the frame as a PreparedMessage, built once.
func (f *Frame) Prepared() (*websocket.PreparedMessage, error) {
	f.once.Do(func() {
		mt := websocket.TextMessage
		if f.Binary {
			mt = websocket.BinaryMessage
		}
		f.prepared, f.err = websocket.NewPreparedMessage(mt, f.Data)
	})
	return f.prepared, f.err
}
