package wire

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

// appendJSONHeader encodes h exactly as encoding/json would encode Header,
// without reflection or allocation.
func appendJSONHeader(dst []byte, h *Header) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(h.Version), 10)
	dst = append(dst, `,"k":`...)
	dst = strconv.AppendUint(dst, uint64(h.Kind), 10)
	if h.Type != "" {
		dst = append(dst, `,"t":`...)
		dst = appendJSONString(dst, h.Type)
	}
	if h.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = appendJSONString(dst, h.ID)
	}
	if len(h.Headers) > 0 {
		dst = append(dst, `,"h":{`...)
		first := true
		for _, k := range sortedKeys(h.Headers) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, h.Headers[k])
		}
		dst = append(dst, '}')
	}
	if h.Deadline != 0 {
		dst = append(dst, `,"dl":`...)
		dst = strconv.AppendInt(dst, h.Deadline, 10)
	}
	if h.Body != 0 {
		dst = append(dst, `,"b":`...)
		dst = strconv.AppendUint(dst, uint64(h.Body), 10)
	}
	if h.RawLen != 0 {
		dst = append(dst, `,"n":`...)
		dst = strconv.AppendInt(dst, int64(h.RawLen), 10)
	}
	if h.Events != 0 {
		dst = append(dst, `,"ec":`...)
		dst = strconv.AppendInt(dst, int64(h.Events), 10)
	}
	return append(dst, '}')
}

// appendJSONString quotes s; strings that need escaping go through
// encoding/json so the output always matches it.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// parseJSONHeader decodes the compact form appendJSONHeader writes. It
// returns false on anything else (whitespace, escapes, unknown keys), and
// the caller falls back to encoding/json, so every valid encoding decodes.
func parseJSONHeader(b []byte, h *Header, intern func([]byte) string) bool {
	p := jsonParser{b: b}
	if !p.byte('{') {
		return false
	}
	if p.byte('}') {
		return p.end()
	}
	for {
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return false
		}
		switch string(key) {
		case "v":
			n, ok := p.int()
			if !ok || n != int64(int(n)) {
				return false
			}
			h.Version = int(n)
		case "k":
			n, ok := p.int()
			if !ok || n < 0 || n > 255 {
				return false
			}
			h.Kind = shared.Kind(n)
		case "b":
			n, ok := p.int()
			if !ok || n < 0 || n > 255 {
				return false
			}
			h.Body = Body(n)
		case "n":
			n, ok := p.int()
			if !ok || n != int64(int(n)) {
				return false
			}
			h.RawLen = int(n)
		case "ec":
			n, ok := p.int()
			if !ok || n != int64(int(n)) {
				return false
			}
			h.Events = int(n)
		case "dl":
			n, ok := p.int()
			if !ok {
				return false
			}
			h.Deadline = n
		case "t":
			s, ok := p.str()
			if !ok {
				return false
			}
			h.Type = intern(s)
		case "id":
			s, ok := p.str()
			if !ok {
				return false
			}
			h.ID = string(s)
		case "h":
			if !p.byte('{') {
				return false
			}
			if h.Headers == nil { // a repeated "h" merges, as in encoding/json
				h.Headers = make(map[string]string)
			}
			if !p.byte('}') {
				for {
					k, ok1 := p.str()
					ok2 := p.byte(':')
					v, ok3 := p.str()
					if !ok1 || !ok2 || !ok3 {
						return false
					}
					h.Headers[string(k)] = string(v)
					if p.byte('}') {
						break
					}
					if !p.byte(',') {
						return false
					}
				}
			}
		default:
			return false
		}
		if p.byte('}') {
			return p.end()
		}
		if !p.byte(',') {
			return false
		}
	}
}

type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) end() bool { return p.i == len(p.b) }

// str reads a string with no escapes, of valid UTF-8.
func (p *jsonParser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// int reads an integer in JSON's form: optional minus, no leading zeros.
// It refuses "-0", which encoding/json refuses for the unsigned k and b, so
// the fallback decides.
func (p *jsonParser) int() (int64, bool) {
	start := p.i
	p.byte('-')
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || (p.b[digits] == '0' && (p.i-digits > 1 || digits > start)) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return n, err == nil
}
