package schemas

import (
	"fmt"
	"strconv"
)

// canonicalForm appends the Parsing Canonical Form of a schema decoded with
// json.Decoder.UseNumber, as the Avro specification defines it: full names, only the
// attributes that matter to parsing, in the specified order, no whitespace. goavro's own
// form repeats namespaces in names, so its fingerprints match no other implementation's.
func canonicalForm(dst []byte, node any, ns string) ([]byte, error) {
	switch n := node.(type) {
	case string:
		if !primitive(n) {
			n = fullName(n, ns)
		}
		return appendRawString(dst, n), nil
	case []any:
		dst = append(dst, '[')
		for i, branch := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = canonicalForm(dst, branch, ns); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		return canonicalObject(dst, n, ns)
	}
	return nil, fmt.Errorf("not a schema: %v", node)
}

func canonicalObject(dst []byte, n map[string]any, ns string) ([]byte, error) {
	typ, _ := n["type"].(string)
	var err error
	switch typ {
	case "record", "error", "enum", "fixed":
		full, err := definedName(n, ns, "schema")
		if err != nil {
			return nil, err
		}
		dst = append(dst, `{"name":`...)
		dst = appendRawString(dst, full)
		dst = append(dst, `,"type":`...)
		dst = appendRawString(dst, typ)
		switch typ {
		case "enum":
			dst = append(dst, `,"symbols":`...)
			dst, err = canonicalStrings(dst, n["symbols"])
		case "fixed":
			var size int
			if size, err = schemaInt(n, "size"); err == nil {
				dst = append(dst, `,"size":`...)
				dst = strconv.AppendInt(dst, int64(size), 10)
			}
		default:
			dst, err = canonicalFields(dst, n, namespaceOf(full))
		}
		if err != nil {
			return nil, err
		}
		return append(dst, '}'), nil
	case "array":
		dst = append(dst, `{"type":"array","items":`...)
		dst, err = canonicalForm(dst, n["items"], ns)
	case "map":
		dst = append(dst, `{"type":"map","values":`...)
		dst, err = canonicalForm(dst, n["values"], ns)
	default: // a primitive or a name, with attributes such as a logical type that don't count
		return canonicalForm(dst, n["type"], ns)
	}
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

func canonicalFields(dst []byte, record map[string]any, ns string) ([]byte, error) {
	fields, err := recordFields(record, "schema")
	if err != nil {
		return nil, err
	}
	dst = append(dst, `,"fields":[`...)
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		name, _ := f["name"].(string)
		dst = append(dst, `{"name":`...)
		dst = appendRawString(dst, name)
		dst = append(dst, `,"type":`...)
		if dst, err = canonicalForm(dst, f["type"], ns); err != nil {
			return nil, err
		}
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}

func canonicalStrings(dst []byte, v any) ([]byte, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("enum symbols are not a list")
	}
	dst = append(dst, '[')
	for i, s := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		str, ok := s.(string)
		if !ok {
			return nil, fmt.Errorf("enum symbol %v is not a string", s)
		}
		dst = appendRawString(dst, str)
	}
	return append(dst, ']'), nil
}

// appendRawString writes s between quotes unescaped, as the canonical form wants; Avro
// names and symbols hold no characters JSON escapes.
func appendRawString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// fingerprint64 is the CRC-64-AVRO (Rabin) fingerprint of the Avro specification.
func fingerprint64(b []byte) uint64 {
	fp := uint64(fingerprintEmpty)
	for _, c := range b {
		fp = (fp >> 8) ^ fingerprintTable[byte(fp)^c]
	}
	return fp
}

const fingerprintEmpty = 0xc15d213aa4d7a795

var fingerprintTable = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (fingerprintEmpty & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()
