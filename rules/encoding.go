package rules

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/yamlpos"
)

// byteOrderMarks are the marks of the encodings an editor may save a
// rules file in other than UTF-8. yaml.v3 decodes UTF-16 itself, but every
// position herald reports counts UTF-8 runes, and its errors on such a
// file ("unknown key \"ules\"") send the reader looking in the wrong place.
// UTF-32 comes first: its little-endian mark begins like UTF-16's.
var byteOrderMarks = []struct {
	mark []byte
	name string
}{
	{[]byte{0xFF, 0xFE, 0x00, 0x00}, "UTF-32"},
	{[]byte{0x00, 0x00, 0xFE, 0xFF}, "UTF-32"},
	{[]byte{0xFF, 0xFE}, "UTF-16"},
	{[]byte{0xFE, 0xFF}, "UTF-16"},
}

// encodingError reports a file that is not UTF-8 text, at its first bad
// byte, before YAML reads it: YAML's own messages for such bytes ("invalid
// trailing UTF-8 octet") do not say what to do. A UTF-8 byte order mark is
// fine.
func encodingError(file string, data []byte) *yamlpos.Error {
	for _, bom := range byteOrderMarks {
		if bytes.HasPrefix(data, bom.mark) {
			return yamlpos.Errorf(yamlpos.Pos{File: file, Line: 1, Col: 1},
				"not UTF-8: the file is %s (it starts with a %s byte order mark); save the file as UTF-8", bom.name, bom.name)
		}
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return yamlpos.Errorf(bytePos(file, data, i), "not UTF-8: byte 0x%02X%s is not valid UTF-8; save the file as UTF-8", data[i], latin1(data[i]))
		case r == 0:
			return yamlpos.Errorf(bytePos(file, data, i), "not UTF-8 text: a NUL byte (0x00), as in a UTF-16 file without a byte order mark; save the file as UTF-8")
		}
		i += size
	}
	return nil
}

// latin1 names the character byte b is in Latin-1 and Windows-1252, the
// encodings a file with such a byte was most likely saved in.
func latin1(b byte) string {
	if b < 0xA0 {
		return ""
	}
	return fmt.Sprintf(" (%q in Windows-1252)", string(rune(b)))
}

// bytePos is the position of byte offset off in data, its column counted
// in runes like every other column herald reports.
func bytePos(file string, data []byte, off int) yamlpos.Pos {
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return yamlpos.Pos{File: file, Line: bytes.Count(data[:off], []byte("\n")) + 1, Col: utf8.RuneCount(data[start:off]) + 1}
}
