package serializers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxCBORNesting bounds how deeply arrays and maps may nest in a CBOR
// message, its own list included. It is fxamacker/cbor's MaxNestedLevels,
// which cborDec sets to it.
const maxCBORNesting = 32

// cborLevel is an open array or map during checkCBOR.
type cborLevel struct {
	left  int  // items still to come, keys and values counted apart; -1: until a break
	isMap bool // items come in pairs
	read  int  // items read, for a map of indefinite length
}

// cborChecker walks one CBOR item; pos is where it stopped.
type cborChecker struct {
	data  []byte
	pos   int
	stack [maxCBORNesting + 1]cborLevel
}

var errCBORTruncated = errors.New("truncated")

// checkCBOR walks the structure of one CBOR data item without decoding it
// and fails if it is not well formed (RFC 8949 appendix C), is truncated,
// nests deeper than maxCBORNesting, declares more elements than it has bytes
// for, holds a text string that is not UTF-8 (RFC 8949 section 3.1, major
// type 3), or is followed by trailing bytes.
//
// fxamacker/cbor checks UTF-8 only where it decodes a text string into a Go
// value (decode.go, parseTextString), not in the cbor.RawMessage elements a
// frame is split into: a payload is forwarded as it came, so its text is
// checked here. Each step consumes at least one byte and the walk keeps its
// own stack, bounded by maxCBORNesting: the work is linear in len(data),
// indefinite-length items included, with no recursion.
func checkCBOR(data []byte) error {
	c := cborChecker{data: data}
	if err := c.walk(); err != nil {
		return fmt.Errorf("at byte %d: %w", c.pos, err)
	}
	return nil
}

func (c *cborChecker) walk() error {
	stack := append(c.stack[:0], cborLevel{left: 1})
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.left == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		if c.pos >= len(c.data) {
			return errCBORTruncated
		}
		if top.left < 0 && c.data[c.pos] == 0xff { // the break ending an indefinite length
			if top.isMap && top.read%2 != 0 {
				return fmt.Errorf("a map of indefinite length ends after a key")
			}
			c.pos++
			stack = stack[:len(stack)-1]
			continue
		}
		if top.left > 0 {
			top.left--
		}
		top.read++
		open, lvl, err := c.item()
		if err != nil {
			return err
		}
		if open {
			if len(stack) > maxCBORNesting {
				return fmt.Errorf("nested deeper than %d levels", maxCBORNesting)
			}
			stack = append(stack, lvl)
		}
	}
	if c.pos != len(c.data) {
		return fmt.Errorf("%d bytes after the message", len(c.data)-c.pos)
	}
	return nil
}

// item reads one item's head, after any tags: a scalar or string whole, an
// array or map as the level it opens.
func (c *cborChecker) item() (open bool, lvl cborLevel, err error) {
	for {
		major, ai, val, err := c.head()
		if err != nil {
			return false, lvl, err
		}
		indefinite := ai == 31
		if indefinite && (major < 2 || major == 6) {
			return false, lvl, fmt.Errorf("major type %d has no indefinite length", major)
		}
		switch major {
		case 2, 3:
			if indefinite {
				return false, lvl, c.chunks(major)
			}
			return false, lvl, c.str(major, val)
		case 4, 5:
			lvl.isMap = major == 5
			if indefinite {
				lvl.left = -1
				return true, lvl, nil
			}
			n, left := val, uint64(len(c.data)-c.pos)
			if lvl.isMap && n <= left {
				n *= 2
			}
			if n > left {
				return false, lvl, fmt.Errorf("%d elements declared, %d bytes left", val, left)
			}
			lvl.left = int(n)
			return true, lvl, nil
		case 6: // a tag: its content is the item
			continue
		case 7:
			if indefinite {
				return false, lvl, fmt.Errorf("unexpected break")
			}
			if ai == 24 && val < 32 {
				return false, lvl, fmt.Errorf("simple value %d in two bytes", val)
			}
		}
		return false, lvl, nil
	}
}

// head reads an initial byte and its argument. For ai 31 (indefinite
// length, or a break) val is 0.
func (c *cborChecker) head() (major, ai byte, val uint64, err error) {
	if c.pos >= len(c.data) {
		return 0, 0, 0, errCBORTruncated
	}
	b := c.data[c.pos]
	major, ai = b>>5, b&0x1f
	c.pos++
	switch {
	case ai < 24:
		return major, ai, uint64(ai), nil
	case ai >= 28 && ai <= 30:
		return 0, 0, 0, fmt.Errorf("reserved additional information %d", ai)
	case ai == 31:
		return major, ai, 0, nil
	}
	n := 1 << (ai - 24) // 1, 2, 4 or 8 bytes
	if len(c.data)-c.pos < n {
		return 0, 0, 0, errCBORTruncated
	}
	arg := c.data[c.pos : c.pos+n]
	c.pos += n
	switch n {
	case 1:
		val = uint64(arg[0])
	case 2:
		val = uint64(binary.BigEndian.Uint16(arg))
	case 4:
		val = uint64(binary.BigEndian.Uint32(arg))
	default:
		val = binary.BigEndian.Uint64(arg)
	}
	return major, ai, val, nil
}

// str skips a byte or text string's n bytes, checking that text is UTF-8.
func (c *cborChecker) str(major byte, n uint64) error {
	if n > uint64(len(c.data)-c.pos) {
		return errCBORTruncated
	}
	body := c.data[c.pos : c.pos+int(n)]
	if major == 3 && !utf8.Valid(body) {
		return fmt.Errorf("text string is not UTF-8")
	}
	c.pos += int(n)
	return nil
}

// chunks skips the chunks of a string of indefinite length: strings of the
// same major type and definite length, up to a break. Each chunk of a text
// string must be UTF-8 on its own (RFC 8949 section 3.2.3).
func (c *cborChecker) chunks(major byte) error {
	for {
		if c.pos >= len(c.data) {
			return errCBORTruncated
		}
		if c.data[c.pos] == 0xff {
			c.pos++
			return nil
		}
		m, ai, val, err := c.head()
		if err != nil {
			return err
		}
		if m != major || ai == 31 {
			return fmt.Errorf("a chunk of a string of indefinite length is not a string of its type and definite length")
		}
		if err := c.str(major, val); err != nil {
			return err
		}
	}
}
