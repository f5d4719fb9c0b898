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
	length := func(width int) (int, error) {
		if len(b) < 1+width {
			return 0, fmt.Errorf("truncated length")
		}
		switch width {
		case 1:
			return int(b[1]), nil
		case 2:
			return int(binary.BigEndian.Uint16(b[1:])), nil
		}
		return int(binary.BigEndian.Uint32(b[1:])), nil
	}
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return 1, 0, nil
	case c >= 0x80 && c <= 0x8f:
		return 1, 2 * int(c&0x0f), nil
	case c >= 0x90 && c <= 0x9f:
		return 1, int(c & 0x0f), nil
	case c >= 0xa0 && c <= 0xbf:
		return msgpackStr(b, 1, int(c&0x1f))
	}
	fixed := map[byte]int{0xca: 5, 0xcb: 9, 0xcc: 2, 0xcd: 3, 0xce: 5, 0xcf: 9, 0xd0: 2, 0xd1: 3, 0xd2: 5, 0xd3: 9,
		0xd4: 3, 0xd5: 4, 0xd6: 6, 0xd7: 10, 0xd8: 18}
	if n, ok := fixed[c]; ok {
		return n, 0, nil
	}
	var width, extra int
	switch c {
	case 0xc4, 0xd9:
		width = 1
	case 0xc5, 0xda:
		width = 2
	case 0xc6, 0xdb:
		width = 4
	case 0xc7:
		width, extra = 1, 1
	case 0xc8:
		width, extra = 2, 1
	case 0xc9:
		width, extra = 4, 1
	case 0xdc, 0xde:
		width = 2
	case 0xdd, 0xdf:
		width = 4
	default:
		return 0, 0, fmt.Errorf("invalid code %#x", c)
	}
	n, err := length(width)
	if err != nil {
		return 0, 0, err
	}
	switch c {
	case 0xdc, 0xdd:
		return 1 + width, n, nil
	case 0xde, 0xdf:
		return 1 + width, 2 * n, nil
	case 0xd9, 0xda, 0xdb:
		return msgpackStr(b, 1+width, n)
	}
	return 1 + width + extra + n, 0, nil
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
