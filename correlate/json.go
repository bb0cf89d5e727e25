package correlate

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A JSON leaf: a string or a number, where it sits (a JSON Pointer, RFC
// 6901) and its bytes in the document. Booleans and null are no values a
// server hands out for later use: they are skipped.
type leaf struct {
	// start and end delimit the leaf in the document, quotes included.
	start, end int
	// str is a string leaf (else a number).
	str bool
}

// Bounds of the walk: documents come from the wire.
const (
	maxDepth  = 64
	maxLeaves = 4096
)

var errJSON = errors.New("not JSON")

// jsonWalker walks a JSON document and calls visit for each string and
// number leaf, with the path to it kept as a stack of tokens: the pointer
// string is made only for the leaves visit wants (pointer).
type jsonWalker struct {
	b      []byte
	i      int
	tokens []string // object keys and array indexes down to the leaf
	// path is tokens as a JSON Pointer, kept as the walk goes down and
	// up: a leaf's pointer is one copy.
	path   []byte
	leaves int
	visit  func(w *jsonWalker, l leaf) bool // false: stop
	stop   bool
	// keys are recent object keys, to take a key from without a copy.
	keys    []string
	nextKey int
}

// walkJSON walks b. It returns errJSON when b is not one JSON value
// (trailing whitespace allowed), having visited the leaves before the
// error; a walk cut by the bounds is no error.
func walkJSON(b []byte, visit func(w *jsonWalker, l leaf) bool) error {
	w := &jsonWalker{b: b, visit: visit}
	w.space()
	if err := w.value(0); err != nil {
		return err
	}
	if w.stop {
		return nil
	}
	w.space()
	if w.i != len(w.b) {
		return errJSON
	}
	return nil
}

// pointer is the JSON Pointer of the leaf being visited.
func (w *jsonWalker) pointer() string { return string(w.path) }

// pointerAfter is prefix and the pointer, in one string.
func (w *jsonWalker) pointerAfter(prefix string) string {
	var sb strings.Builder
	sb.Grow(len(prefix) + len(w.path))
	sb.WriteString(prefix)
	sb.Write(w.path)
	return sb.String()
}

// push and pop go down to a key or index and back up.
func (w *jsonWalker) push(t string) int {
	mark := len(w.path)
	w.tokens = append(w.tokens, t)
	w.path = append(append(w.path, '/'), escapeToken(t)...)
	return mark
}

func (w *jsonWalker) pop(mark int) {
	w.tokens = w.tokens[:len(w.tokens)-1]
	w.path = w.path[:mark]
}

// indexes are the array index tokens made once.
var indexes = func() []string {
	out := make([]string, 1024)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

func index(n int) string {
	if n < len(indexes) {
		return indexes[n]
	}
	return strconv.Itoa(n)
}

// name is the key the leaf is under: the last token that is not an array
// index ("" for a top-level value or an array of scalars at the top). An
// "id" or "uuid" right under another key takes its name too: the "id" of
// {"project": {"id": 7}} is "project.id".
func (w *jsonWalker) name() string {
	for i := len(w.tokens) - 1; i >= 0; i-- {
		t := w.tokens[i]
		if isIndex(t) {
			continue
		}
		if (strings.EqualFold(t, "id") || strings.EqualFold(t, "uuid")) && i > 0 && !isIndex(w.tokens[i-1]) {
			return w.tokens[i-1] + "." + t
		}
		return t
	}
	return ""
}

func isIndex(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return true
}

func (w *jsonWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func (w *jsonWalker) value(depth int) error {
	if depth > maxDepth {
		w.stop = true
		return nil
	}
	if w.i >= len(w.b) {
		return errJSON
	}
	switch c := w.b[w.i]; {
	case c == '{':
		return w.object(depth)
	case c == '[':
		return w.array(depth)
	case c == '"':
		start := w.i
		if _, err := w.string(); err != nil {
			return err
		}
		w.leaf(leaf{start: start, end: w.i, str: true})
	case c == '-' || ('0' <= c && c <= '9'):
		start := w.i
		if !w.number() {
			return errJSON
		}
		w.leaf(leaf{start: start, end: w.i})
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if strings.HasPrefix(string(w.b[w.i:min(len(w.b), w.i+5)]), lit) {
				w.i += len(lit)
				return nil
			}
		}
		return errJSON
	}
	return nil
}

func (w *jsonWalker) leaf(l leaf) {
	if w.leaves++; w.leaves > maxLeaves {
		w.stop = true
		return
	}
	if !w.visit(w, l) {
		w.stop = true
	}
}

func (w *jsonWalker) object(depth int) error {
	w.i++ // {
	w.space()
	if w.i < len(w.b) && w.b[w.i] == '}' {
		w.i++
		return nil
	}
	for !w.stop {
		w.space()
		if w.i >= len(w.b) || w.b[w.i] != '"' {
			return errJSON
		}
		key, err := w.key()
		if err != nil {
			return err
		}
		w.space()
		if w.i >= len(w.b) || w.b[w.i] != ':' {
			return errJSON
		}
		w.i++
		w.space()
		mark := w.push(key)
		err = w.value(depth + 1)
		w.pop(mark)
		if err != nil || w.stop {
			return err
		}
		if done, err := w.after('}'); done || err != nil {
			return err
		}
	}
	return nil
}

func (w *jsonWalker) array(depth int) error {
	w.i++ // [
	w.space()
	if w.i < len(w.b) && w.b[w.i] == ']' {
		w.i++
		return nil
	}
	for n := 0; !w.stop; n++ {
		w.space()
		mark := w.push(index(n))
		err := w.value(depth + 1)
		w.pop(mark)
		if err != nil || w.stop {
			return err
		}
		if done, err := w.after(']'); done || err != nil {
			return err
		}
	}
	return nil
}

// after reads what follows a member or an element: a comma (more come)
// or the closing bracket (done).
func (w *jsonWalker) after(closing byte) (done bool, err error) {
	w.space()
	if w.i >= len(w.b) {
		return false, errJSON
	}
	switch w.b[w.i] {
	case ',':
		w.i++
		return false, nil
	case closing:
		w.i++
		return true, nil
	}
	return false, errJSON
}

// key reads an object's key: a string, which the walker's recent keys
// give without an allocation when it is one of them (the members of an
// array of objects repeat their keys).
func (w *jsonWalker) key() (string, error) {
	start := w.i
	_, plain, err := w.skipString()
	if err != nil {
		return "", err
	}
	if !plain {
		return unquote(w.b[start:w.i])
	}
	raw := w.b[start+1 : w.i-1]
	for _, r := range w.keys {
		if r == string(raw) {
			return r, nil
		}
	}
	key := string(raw)
	if len(w.keys) < maxKeys {
		w.keys = append(w.keys, key)
	} else {
		w.keys[w.nextKey] = key
		w.nextKey = (w.nextKey + 1) % maxKeys
	}
	return key, nil
}

// maxKeys is how many recent keys a walker keeps.
const maxKeys = 16

// skipString moves past a JSON string at w.i, and says whether it has
// no escapes.
func (w *jsonWalker) skipString() (end int, plain bool, err error) {
	w.i++
	plain = true
	for w.i < len(w.b) {
		switch c := w.b[w.i]; {
		case c == '"':
			w.i++
			return w.i, plain, nil
		case c == '\\':
			plain = false
			w.i += 2
		case c < 0x20:
			return 0, false, errJSON
		default:
			w.i++
		}
	}
	return 0, false, errJSON
}

// string reads a JSON string at w.i and returns its value.
func (w *jsonWalker) string() (string, error) {
	start := w.i
	w.i++
	plain := true
	for w.i < len(w.b) {
		switch c := w.b[w.i]; {
		case c == '"':
			w.i++
			raw := w.b[start:w.i]
			if plain {
				return string(raw[1 : len(raw)-1]), nil
			}
			return unquote(raw)
		case c == '\\':
			plain = false
			w.i += 2
		case c < 0x20:
			return "", errJSON
		default:
			w.i++
		}
	}
	return "", errJSON
}

func (w *jsonWalker) number() bool {
	start := w.i
	for w.i < len(w.b) {
		c := w.b[w.i]
		if c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || ('0' <= c && c <= '9') {
			w.i++
			continue
		}
		break
	}
	_, err := strconv.ParseFloat(string(w.b[start:w.i]), 64)
	return err == nil || errors.Is(err, strconv.ErrRange)
}

// unquote decodes a JSON string literal, quotes included.
func unquote(raw []byte) (string, error) {
	var sb strings.Builder
	for i := 1; i < len(raw)-1; {
		c := raw[i]
		if c != '\\' {
			sb.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(raw)-1 {
			return "", errJSON
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			sb.WriteByte(e)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			if i+6 > len(raw)-1 {
				return "", errJSON
			}
			n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
			if err != nil {
				return "", errJSON
			}
			r := rune(n)
			i += 6
			if utf16High(r) && i+6 <= len(raw)-1 && raw[i] == '\\' && raw[i+1] == 'u' {
				if lo, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16); err == nil && utf16Low(rune(lo)) {
					r = (r-0xd800)<<10 + (rune(lo) - 0xdc00) + 0x10000
					i += 6
				}
			}
			if !utf8.ValidRune(r) {
				r = utf8.RuneError
			}
			sb.WriteRune(r)
			continue
		default:
			return "", errJSON
		}
		i += 2
	}
	return sb.String(), nil
}

func utf16High(r rune) bool { return 0xd800 <= r && r < 0xdc00 }
func utf16Low(r rune) bool  { return 0xdc00 <= r && r < 0xe000 }

// leafText is the value of a leaf: a string's content, a number's text.
func leafText(b []byte, l leaf) (string, bool) {
	raw := b[l.start:l.end]
	if !l.str {
		return string(raw), true
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true // nothing to decode
	}
	if s, err := unquote(raw); err == nil {
		return s, true
	}
	return "", false
}

// escapeToken escapes a JSON Pointer token (RFC 6901: ~ is ~0, / is ~1).
func escapeToken(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}

// unescapeToken undoes escapeToken.
func unescapeToken(t string) string {
	if !strings.Contains(t, "~") {
		return t
	}
	return strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
}
