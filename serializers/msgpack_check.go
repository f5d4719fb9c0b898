package serializers

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// maxNesting bounds how deeply lists and dicts may nest in a message.
const maxNesting = 64

// checkMsgpack walks the structure of one MessagePack value without decoding
// it and fails if it is truncated, nests deeper than maxNesting, declares more
// elements than it has bytes for, holds a str that is not UTF-8 (the
// MessagePack spec requires it; vmihailenco/msgpack does not check), or is
// followed by trailing bytes.
//
// vmihailenco/msgpack preallocates containers from their declared length (up
// to a million entries each) and recurses without a depth limit, so a few
// hostile bytes could make it allocate gigabytes or overflow the stack; this
// check runs on every frame before it is decoded.
func checkMsgpack(data []byte) error {
	return CheckMsgpack(data)
}

// CheckMsgpack is checkMsgpack for other MessagePack input than WAMP
// frames, such as the router's cluster messages, before vmihailenco/msgpack
// decodes it.
func CheckMsgpack(data []byte) error {
	pos := 0
	stack := []int{1} // remaining items per open container
	for len(stack) > 0 {
		top := len(stack) - 1
		if stack[top] == 0 {
			stack = stack[:top]
			continue
		}
		stack[top]--
		if pos >= len(data) {
			return fmt.Errorf("truncated at byte %d", pos)
		}
		n, items, err := msgpackItem(data[pos:])
		if err != nil {
			return fmt.Errorf("at byte %d: %w", pos, err)
		}
		pos += n
		if pos > len(data) {
			return fmt.Errorf("truncated at byte %d", len(data))
		}
		if items > 0 {
			if items > len(data)-pos {
				return fmt.Errorf("at byte %d: %d elements declared, %d bytes left", pos, items, len(data)-pos)
			}
			if len(stack) > maxNesting {
				return fmt.Errorf("nested deeper than %d levels", maxNesting)
			}
			stack = append(stack, items)
		}
	}
	if pos != len(data) {
		return fmt.Errorf("%d bytes after the message", len(data)-pos)
	}
	return nil
}

// msgpackItem returns the size of an item's header and scalar body in bytes,
// and for a container the number of items (a map's keys and values) it holds.
func msgpackItem(b []byte) (size, items int, err error) {
	c := b[0]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return 1, 0, nil
	case c <= 0x8f: // fixmap
		return 1, 2 * int(c&0x0f), nil
	case c <= 0x9f: // fixarray
		return 1, int(c & 0x0f), nil
	case c <= 0xbf: // fixstr
		return msgpackStr(b, 1, int(c&0x1f))
	}
	if n := msgpackFixedSize(c); n > 0 {
		return n, 0, nil
	}
	width, extra := msgpackLengthWidth(c)
	if width == 0 {
		return 0, 0, fmt.Errorf("invalid code %#x", c)
	}
	if len(b) < 1+width {
		return 0, 0, fmt.Errorf("truncated length")
	}
	var n int
	switch width {
	case 1:
		n = int(b[1])
	case 2:
		n = int(binary.BigEndian.Uint16(b[1:]))
	default:
		n = int(binary.BigEndian.Uint32(b[1:]))
	}
	switch c {
	case 0xdc, 0xdd: // array 16, 32
		return 1 + width, n, nil
	case 0xde, 0xdf: // map 16, 32
		return 1 + width, 2 * n, nil
	case 0xd9, 0xda, 0xdb: // str 8, 16, 32
		return msgpackStr(b, 1+width, n)
	}
	return 1 + width + extra + n, 0, nil
}

// msgpackFixedSize is the size of an item of fixed size (numbers, fixext)
// with code c, or 0.
func msgpackFixedSize(c byte) int {
	switch c {
	case 0xcc, 0xd0: // uint 8, int 8
		return 2
	case 0xcd, 0xd1, 0xd4: // uint 16, int 16, fixext 1
		return 3
	case 0xd5: // fixext 2
		return 4
	case 0xca, 0xce, 0xd2: // float 32, uint 32, int 32
		return 5
	case 0xd6: // fixext 4
		return 6
	case 0xcb, 0xcf, 0xd3: // float 64, uint 64, int 64
		return 9
	case 0xd7: // fixext 8
		return 10
	case 0xd8: // fixext 16
		return 18
	}
	return 0
}

// msgpackLengthWidth is the size of the length that follows code c (bin,
// str, ext, array 16/32, map 16/32), and 1 for an ext's type after it; 0
// for a code that is none of these.
func msgpackLengthWidth(c byte) (width, extra int) {
	switch c {
	case 0xc4, 0xd9: // bin 8, str 8
		return 1, 0
	case 0xc5, 0xda, 0xdc, 0xde: // bin 16, str 16, array 16, map 16
		return 2, 0
	case 0xc6, 0xdb, 0xdd, 0xdf: // bin 32, str 32, array 32, map 32
		return 4, 0
	case 0xc7: // ext 8
		return 1, 1
	case 0xc8: // ext 16
		return 2, 1
	case 0xc9: // ext 32
		return 4, 1
	}
	return 0, 0
}

// msgpackStr is the size of a str item whose n bytes of text follow a
// header of hdr bytes, checking that they are UTF-8. A truncated str is
// left to the caller, which compares the size with what is left.
func msgpackStr(b []byte, hdr, n int) (size, items int, err error) {
	if size = hdr + n; size <= len(b) && !utf8.Valid(b[hdr:size]) {
		return 0, 0, fmt.Errorf("str is not UTF-8")
	}
	return size, 0, nil
}
