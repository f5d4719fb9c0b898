package serializers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// Bounds of a CBOR message, fxamacker/cbor's defaults, which cborDec sets
// explicitly: how deeply arrays, maps and tags may nest, the message's own
// list included (32 levels, as config.toml says), and how many elements an
// array, pairs a map may declare. checkCBOR applies them as the library
// does (valid.go, wellformedInternal), so a payload that is forwarded
// without being decoded is held to what decoding it would accept.
const (
	maxCBORNesting  = 32
	maxCBORElements = 131072
	maxCBORPairs    = 131072
)

// cborLevel is an open array or map during checkCBOR.
type cborLevel struct {
	left  int  // items still to come, keys and values counted apart; -1: until a break
	read  int  // items read
	depth int  // its level of nesting, tags counted as the library counts them
	isMap bool // items come in pairs
}

// cborChecker walks one CBOR item; pos is where it stopped.
type cborChecker struct {
	data  []byte
	pos   int
	stack [maxCBORNesting + 1]cborLevel

	// The elements of the top-level list: how many, where the one being
	// read began, and the first maxElems of them, slices of data.
	count int
	start int
	elems []cbor.RawMessage
}

// maxElems is how many elements of a message splitCBORList keeps: a message
// has no more than 7, and decodeMessage refuses the rest by their count.
const maxElems = 8

var errCBORTruncated = errors.New("truncated")

// checkCBOR walks the structure of one CBOR data item without decoding it
// and fails if it is not well formed (RFC 8949 appendix C), is truncated,
// exceeds the bounds above, declares more elements than it has bytes for,
// holds a text string that is not UTF-8 (RFC 8949 section 3.1, major type
// 3), or is followed by trailing bytes.
//
// fxamacker/cbor checks UTF-8 only where it decodes a text string into a Go
// value (decode.go, parseTextString), neither in Valid/Wellformed nor in the
// cbor.RawMessage elements a frame used to be split into. Each step here
// consumes at least one byte and the walk keeps its own stack, bounded by
// maxCBORNesting: the work is linear in len(data), indefinite-length items
// included, with no recursion and no allocation.
func checkCBOR(data []byte) error {
	c := cborChecker{data: data}
	if err := c.walk(); err != nil {
		return fmt.Errorf("at byte %d: %w", c.pos, err)
	}
	return nil
}

// splitCBORList checks data as checkCBOR does and, if it is a list,
// returns its number of elements and the first maxElems of them as slices
// of data: payloads are forwarded as these bytes, which no library decodes.
func splitCBORList(data []byte) ([]cbor.RawMessage, int, error) {
	if len(data) == 0 || data[0]>>5 != 4 {
		return nil, 0, fmt.Errorf("not a list")
	}
	c := cborChecker{data: data, elems: make([]cbor.RawMessage, 0, 7)}
	if err := c.walk(); err != nil {
		return nil, 0, fmt.Errorf("at byte %d: %w", c.pos, err)
	}
	return c.elems, c.count, nil
}

// ended records the end of an item in the container at stack depth d: for
// d 1 (the top-level list), an element of the message.
func (c *cborChecker) ended(d int) {
	if d != 1 {
		return
	}
	c.count++
	if c.elems != nil && len(c.elems) < maxElems {
		c.elems = append(c.elems, c.data[c.start:c.pos:c.pos])
	}
}

func (c *cborChecker) walk() error {
	stack := append(c.stack[:0], cborLevel{left: 1})
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.left == 0 || top.left < 0 && c.pos < len(c.data) && c.data[c.pos] == 0xff {
			if top.left < 0 { // the break ending an indefinite length
				if top.isMap && top.read%2 != 0 {
					return fmt.Errorf("a map of indefinite length ends after a key")
				}
				c.pos++
			}
			stack = stack[:len(stack)-1]
			c.ended(len(stack) - 1)
			continue
		}
		if c.pos >= len(c.data) {
			return errCBORTruncated
		}
		if top.left > 0 {
			top.left--
		}
		if top.read++; top.left < 0 && (!top.isMap && top.read > maxCBORElements || top.isMap && top.read > 2*maxCBORPairs) {
			return fmt.Errorf("more than %d elements", maxCBORElements)
		}
		if len(stack) == 2 { // an element of the top-level list begins
			c.start = c.pos
		}
		open, lvl, err := c.item(top.depth)
		if err != nil {
			return err
		}
		if open {
			stack = append(stack, lvl) // lvl.depth <= maxCBORNesting: room
		} else {
			c.ended(len(stack) - 1)
		}
	}
	if c.pos != len(c.data) {
		return fmt.Errorf("%d bytes after the message", len(c.data)-c.pos)
	}
	return nil
}

// item reads one item's head, after any tags, in a container at depth: a
// scalar or string whole, an array or map as the level it opens. As in the
// library, each tag after the first of a chain is a level of nesting.
func (c *cborChecker) item(depth int) (open bool, lvl cborLevel, err error) {
	for tags := 0; ; tags++ {
		major, ai, val, err := c.head()
		if err != nil {
			return false, lvl, err
		}
		if tags > 1 {
			depth++
		}
		if depth > maxCBORNesting {
			return false, lvl, fmt.Errorf("nested deeper than %d levels", maxCBORNesting)
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
			lvl, err = c.container(major == 5, indefinite, val)
			lvl.depth = depth + 1
			if err == nil && lvl.depth > maxCBORNesting {
				err = fmt.Errorf("nested deeper than %d levels", maxCBORNesting)
			}
			return err == nil, lvl, err
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

// container is the level an array or map opens, for n elements (pairs).
func (c *cborChecker) container(isMap, indefinite bool, n uint64) (cborLevel, error) {
	lvl := cborLevel{isMap: isMap, left: -1}
	if indefinite {
		return lvl, nil
	}
	if !isMap && n > maxCBORElements || isMap && n > maxCBORPairs {
		return lvl, fmt.Errorf("%d elements declared, more than %d", n, maxCBORElements)
	}
	if isMap {
		n *= 2
	}
	if left := uint64(len(c.data) - c.pos); n > left {
		return lvl, fmt.Errorf("%d elements declared, %d bytes left", n, left)
	}
	lvl.left = int(n)
	return lvl, nil
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
