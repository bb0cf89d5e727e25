package signature

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// The scanner reads a JSON document once, front to back, and keeps per
// key path the JSON types seen there and a running hash of its values.
// Nothing is decoded into maps or interfaces: a value's text is hashed
// where it lies in the body (an escaped string is unescaped into one
// scratch buffer), and the scan goes down from slot to slot (a path's
// slot links to those under it), making a path's text only when it
// first meets the path.
//
// Work is bounded: MaxDepth nested containers, MaxLeaves distinct paths,
// paths of maxPath bytes. Past a bound the scan stops and says so (full):
// what came before stands.
type scanner struct {
	decoder
	k0, k1 uint64
	b      []byte
	i      int
	// end says the body was cut: running out of bytes is its end, not
	// an error, and a number that reaches it may have been cut short.
	end  bool
	full bool // stopped at a bound

	path []byte // the path of a slot being made
	// slots holds every path seen by this scanner, so that a path's
	// string is made once and not per answer; gen tells this answer's
	// slots from those of earlier answers.
	slots    map[string]*slot
	interned int // bytes of the paths in slots
	gen      uint64
	used     []*slot // this answer's slots, in order of first sight
	order    []int32 // used, sorted by path
	text     []byte  // an escaped string, unescaped
}

// slot is what is known of one path of the answer being scanned. Slots
// outlive answers (see scanner.slots), and so do the links from a slot
// to those under it, which spare most map look-ups: the elements of an
// array have one path, and objects alike have their keys in one order.
type slot struct {
	path  string
	gen   uint64
	types uint8
	n     uint32 // values hashed
	acc   uint64 // their hashes, folded in document order
	// volatile: a value of this answer looked like a time, an id or a
	// token; named: the path's key says it holds one (made once).
	volatile, named bool

	elems *slot // the slot of "[]" under this one
	keys  []kid // slots of keys under this one, in the order last seen
	next  int   // where in keys the next key is likely to be
}

// kid is a key under a slot, and its slot.
type kid struct {
	key string
	sl  *slot
}

// maxKids bounds the keys a slot links to; past it, the look-up is by
// the map (objects keyed by ids).
const maxKids = 64

// maxPath bounds a path's length: a long key under many others would
// otherwise make MaxLeaves paths of a body's length each.
const maxPath = 1024

// maxInterned bounds the bytes of the paths a scanner remembers.
const maxInterned = 1 << 20

var scanners = sync.Pool{New: func() any { return new(scanner) }}

var (
	errEnd    = errors.New("JSON ends early")
	errSyntax = errors.New("not JSON")
)

// The JSON types, as bits: the order of the bits is the order of the
// names, so that typeNames lists them sorted.
const (
	typeArray uint8 = 1 << iota
	typeBool
	typeNull
	typeNumber
	typeObject
	typeString
)

// typeNames maps a set of types to the Types of a Leaf: "null|string".
var typeNames = func() (names [64]string) {
	all := []string{"array", "bool", "null", "number", "object", "string"}
	for set := range names {
		var parts []string
		for i, name := range all {
			if set&(1<<i) != 0 {
				parts = append(parts, name)
			}
		}
		names[set] = strings.Join(parts, "|")
	}
	return names
}()

// typeSet is the inverse of typeNames; ok is false for names it does
// not know.
func typeSet(names string) (set uint8, ok bool) {
	for names != "" {
		name, rest, _ := strings.Cut(names, "|")
		names = rest
		switch name {
		case "array":
			set |= typeArray
		case "bool":
			set |= typeBool
		case "null":
			set |= typeNull
		case "number":
			set |= typeNumber
		case "object":
			set |= typeObject
		case "string":
			set |= typeString
		default:
			return set, false
		}
	}
	return set, true
}

// scan reads b as one JSON document. It returns nil when b is one (or,
// for a body that was cut, the start of one), having stopped early or not
// (full).
func (s *scanner) scan(k Key, b []byte, cut bool) error {
	s.k0, s.k1 = k.halves()
	s.b, s.i, s.end, s.full = b, 0, cut, false
	s.path = append(s.path[:0], '$')
	s.used = s.used[:0]
	s.gen++
	if s.slots == nil || s.interned > maxInterned {
		s.slots, s.interned = make(map[string]*slot), 0
	}
	s.space()
	err := s.value(0, s.lookup(false))
	if err == errEnd && s.end {
		return nil
	}
	if err != nil || s.full {
		return err
	}
	if s.space(); s.i != len(s.b) {
		return errSyntax
	}
	return nil
}

// leaves are the paths scanned, sorted.
func (s *scanner) leaves() []Leaf {
	// Sorting indexes moves no pointers: no write barriers, and the
	// leaves are written once, in order.
	order := s.order[:0]
	for i := range s.used {
		order = append(order, int32(i))
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(s.used[a].path, s.used[b].path) })
	s.order = order
	out := make([]Leaf, len(order))
	for i, j := range order {
		sl := s.used[j]
		out[i] = Leaf{Path: sl.path, Types: typeNames[sl.types], Volatile: sl.volatile}
		if sl.n > 0 {
			out[i].Hash = final(sl.acc, sl.n)
		}
	}
	return out
}

// done lets go of the body and of the slots of a scanner going back to
// the pool.
func (s *scanner) done() {
	s.b = nil
	clear(s.used)
	s.used = s.used[:0]
	s.src.Reset(nil)
}

// lookup is the slot of the path in s.path, made when new; named says
// the key the path ends with names a time, an id or a token (the
// array's key, for its elements). The caller knows the key: read back
// from a path, a key holding `["` is taken for the start of its own
// bracket.
func (s *scanner) lookup(named bool) *slot {
	sl := s.slots[string(s.path)]
	if sl == nil {
		sl = &slot{path: string(s.path), named: named}
		s.slots[sl.path] = sl
		s.interned += len(sl.path)
	}
	return sl
}

// key is the slot of key under parent: the one after the last key
// found, else one of the keys seen under parent, else the one of its
// path, which is then made; nil when that path is too long.
func (s *scanner) key(parent *slot, key []byte) *slot {
	if i := parent.next; i < len(parent.keys) && parent.keys[i].key == string(key) {
		parent.next = i + 1
		return parent.keys[i].sl
	}
	for i, k := range parent.keys {
		if k.key == string(key) {
			parent.next = i + 1
			return k.sl
		}
	}
	if s.path = appendKey(append(s.path[:0], parent.path...), key); len(s.path) > maxPath {
		return nil
	}
	sl := s.lookup(volatileName(string(key)))
	if len(parent.keys) < maxKids {
		parent.keys = append(parent.keys, kid{string(key), sl})
		parent.next = len(parent.keys)
	}
	return sl
}

// use makes sl one of this answer's slots, if not yet; false when it
// would be one path too many.
func (s *scanner) use(sl *slot) bool {
	if sl.gen == s.gen {
		return true
	}
	if len(s.used) == MaxLeaves {
		s.full = true
		return false
	}
	sl.gen, sl.types, sl.n, sl.acc, sl.volatile = s.gen, 0, 0, 0, false
	s.used = append(s.used, sl)
	return true
}

// leaf records a scalar value: its type, and its text hashed with tag
// (its type, for the hash).
func (s *scanner) leaf(sl *slot, t uint8, tag byte, text []byte) {
	if !s.use(sl) {
		return
	}
	sl.types |= t
	sl.acc = fold(sl.acc, sip(s.k0, s.k1, tag, text))
	sl.n++
	if !sl.volatile && t != typeNull && (sl.named || volatileText(t, text)) {
		sl.volatile = true
	}
}

// fold adds a value's hash to a path's: rotating before each one makes
// the result depend on the order of the values, multiplying by an odd
// number mixes the bits (both are one to one, so nothing is lost).
func fold(acc, h uint64) uint64 {
	return (bits.RotateLeft64(acc, 23) ^ h) * 0x9e3779b97f4a7c15
}

// final is a path's hash from its folded values and their count, never 0
// (0 means no value).
func final(acc uint64, n uint32) int64 {
	h := acc ^ uint64(n)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	if h == 0 {
		h = 1
	}
	return int64(h)
}

// The texts of the literals, hashed as they are written.
var (
	textTrue  = []byte("true")
	textFalse = []byte("false")
	textNull  = []byte("null")
)

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value reads the value at s.i, whose path's slot is sl; depth is the
// number of containers it is in.
func (s *scanner) value(depth int, sl *slot) error {
	if s.i >= len(s.b) {
		return errEnd
	}
	switch c := s.b[s.i]; c {
	case '{':
		return s.object(depth+1, sl)
	case '[':
		return s.array(depth+1, sl)
	case '"':
		v, err := s.string()
		if err != nil {
			return err
		}
		s.leaf(sl, typeString, 's', v)
	case 't':
		return s.literal(sl, textTrue, typeBool, 'b')
	case 'f':
		return s.literal(sl, textFalse, typeBool, 'b')
	case 'n':
		return s.literal(sl, textNull, typeNull, 'z')
	default:
		if c != '-' && (c < '0' || c > '9') {
			return errSyntax
		}
		start := s.i
		if err := s.number(); err != nil {
			return err
		}
		s.leaf(sl, typeNumber, 'n', s.b[start:s.i])
	}
	return nil
}

func (s *scanner) object(depth int, sl *slot) error {
	if depth > MaxDepth {
		s.full = true
		return nil
	}
	if !s.use(sl) {
		return nil
	}
	sl.types |= typeObject
	s.i++ // {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	sl.next = 0
	for {
		if s.i >= len(s.b) {
			return errEnd
		}
		if s.b[s.i] != '"' {
			return errSyntax
		}
		key, err := s.string()
		if err != nil {
			return err
		}
		s.space()
		if s.i >= len(s.b) {
			return errEnd
		}
		if s.b[s.i] != ':' {
			return errSyntax
		}
		s.i++
		s.space()
		child := s.key(sl, key)
		if child == nil {
			s.full = true // a path too long
			return nil
		}
		if err := s.value(depth, child); err != nil || s.full {
			return err
		}
		if done, err := s.after('}'); done || err != nil {
			return err
		}
	}
}

func (s *scanner) array(depth int, sl *slot) error {
	if depth > MaxDepth {
		s.full = true
		return nil
	}
	if !s.use(sl) {
		return nil
	}
	sl.types |= typeArray
	s.i++ // [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	// All elements share one path: "$.items[]".
	if sl.elems == nil {
		if s.path = append(append(s.path[:0], sl.path...), "[]"...); len(s.path) > maxPath {
			s.full = true
			return nil
		}
		sl.elems = s.lookup(sl.named)
	}
	for {
		if err := s.value(depth, sl.elems); err != nil || s.full {
			return err
		}
		if done, err := s.after(']'); done || err != nil {
			return err
		}
	}
}

// after reads what follows a member or an element: a comma (more come)
// or the closing bracket (done).
func (s *scanner) after(closing byte) (done bool, err error) {
	s.space()
	if s.i >= len(s.b) {
		return false, errEnd
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		s.space()
		return false, nil
	case closing:
		s.i++
		return true, nil
	}
	return false, errSyntax
}

func (s *scanner) literal(sl *slot, text []byte, t uint8, tag byte) error {
	for j, c := range text {
		if s.i+j >= len(s.b) {
			return errEnd
		}
		if s.b[s.i+j] != c {
			return errSyntax
		}
	}
	s.i += len(text)
	s.leaf(sl, t, tag, text)
	return nil
}

// number reads a number by the JSON grammar:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
// Its text is hashed as written: "1.0" and "1" differ, as they may to a
// client.
func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return errEnd
	}
	switch c := s.b[s.i]; {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return errSyntax
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if err := s.needDigits(); err != nil {
			return err
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if err := s.needDigits(); err != nil {
			return err
		}
	}
	// A number that reaches the end of a cut body may have lost digits:
	// it is still a number, and the hashes of a cut body are not compared.
	return nil
}

func (s *scanner) digits() {
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
}

func (s *scanner) needDigits() error {
	if s.i >= len(s.b) {
		return errEnd
	}
	if c := s.b[s.i]; c < '0' || c > '9' {
		return errSyntax
	}
	s.digits()
	return nil
}

// string reads the string at s.i and returns its bytes unescaped: a
// slice of the body when it has no escapes, else of s.text. Bytes that
// are not UTF-8 are kept as they are.
func (s *scanner) string() ([]byte, error) {
	s.i++ // "
	start := s.i
	// Eight bytes at a time while none ends the string or needs a look.
	for s.i+8 <= len(s.b) && !special(binary.LittleEndian.Uint64(s.b[s.i:])) {
		s.i += 8
	}
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], nil
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			return nil, errSyntax
		}
		s.i++
	}
	return nil, errEnd
}

// special says whether any of the eight bytes in w is a quote, a
// backslash or a control character: x-lo*c&^x&hi has a byte's top bit
// set where x has a byte below c (a zero when x is w^c), and may set it
// wrongly only in bytes above a true one, so "none" is always right.
func special(w uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := w ^ (lo * '"')
	bs := w ^ (lo * '\\')
	return ((q-lo)&^q|(bs-lo)&^bs|(w-lo*0x20)&^w)&hi != 0
}

// escaped goes on with a string that has escapes, from its first.
func (s *scanner) escaped(start int) ([]byte, error) {
	out := append(s.text[:0], s.b[start:s.i]...)
	defer func() { s.text = out[:0] }()
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, nil
		case c < 0x20:
			return nil, errSyntax
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, errEnd
		}
		switch e := s.b[s.i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, err := s.hex4(s.i + 2)
			if err != nil {
				return nil, err
			}
			s.i += 6
			if utf16High(r) && s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
				lo, err := s.hex4(s.i + 2)
				if err != nil {
					return nil, err
				}
				if utf16Low(lo) {
					r = (r-0xd800)<<10 + (lo - 0xdc00) + 0x10000
					s.i += 6
				}
			}
			if utf16High(r) || utf16Low(r) {
				r = utf8.RuneError // a lone surrogate, as encoding/json reads it
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, errSyntax
		}
		s.i += 2
	}
	return nil, errEnd
}

// hex4 reads the four hex digits of a \u escape at i.
func (s *scanner) hex4(i int) (rune, error) {
	if i+4 > len(s.b) {
		for ; i < len(s.b); i++ {
			if unhex(s.b[i]) < 0 {
				return 0, errSyntax
			}
		}
		return 0, errEnd
	}
	var r rune
	for _, c := range s.b[i : i+4] {
		d := unhex(c)
		if d < 0 {
			return 0, errSyntax
		}
		r = r<<4 | d
	}
	return r, nil
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func utf16High(r rune) bool { return 0xd800 <= r && r < 0xdc00 }
func utf16Low(r rune) bool  { return 0xdc00 <= r && r < 0xe000 }

// appendKey appends an object key to a path: ".name" for a plain
// identifier, else `["a b"]` with the key in JSON string escaping, so
// that no two keys make the same path.
func appendKey(path, key []byte) []byte {
	if plain(key) {
		return append(append(path, '.'), key...)
	}
	path = append(path, `["`...)
	for len(key) > 0 {
		r, n := utf8.DecodeRune(key)
		switch {
		case r == '"' || r == '\\':
			path = append(path, '\\', byte(r))
		case r == '\n':
			path = append(path, `\n`...)
		case r == '\r':
			path = append(path, `\r`...)
		case r == '\t':
			path = append(path, `\t`...)
		case r < 0x20:
			path = append(path, `\u00`...)
			path = append(path, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&0xf])
		case r == utf8.RuneError && n == 1:
			// Not UTF-8: written as U+FFFD, as encoding/json does, so
			// that paths are text.
			path = append(path, `\ufffd`...)
		default:
			path = append(path, key[:n]...)
		}
		key = key[n:]
	}
	return append(path, `"]`...)
}

// plain says whether a key is [A-Za-z_][A-Za-z0-9_]*.
func plain(key []byte) bool {
	if len(key) == 0 {
		return false
	}
	for i, c := range key {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
