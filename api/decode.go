package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// decodeJSON reads one JSON object from a capped body into v, strictly: unknown
// fields, wrong types, trailing data and oversized bodies are 400 answers that
// name the field and say what is wrong.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return newError(http.StatusUnsupportedMediaType, "unsupported_media_type",
				"请求体须为 JSON（Content-Type: application/json）", "body must be application/json, got "+ct, "(body)")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newError(http.StatusBadRequest, "body_too_large",
				fmt.Sprintf("请求体超过 %d 字节上限", limit), fmt.Sprintf("body exceeds the %d-byte limit", limit), "(body)")
		}
		return newError(http.StatusBadRequest, "bad_body", "无法读取请求体", "cannot read body: "+err.Error(), "(body)")
	}
	return decodeBytes(body, v)
}

func decodeBytes(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return newError(http.StatusBadRequest, "empty_body", "请求体为空，需要一个 JSON 对象", "empty body: a JSON object is required", "(body)")
	}
	if e := checkKeysAndText(body); e != nil {
		return e
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, err, v)
	}
	if dec.More() {
		return newError(http.StatusBadRequest, "malformed_json", "JSON 对象之后还有多余内容", "unexpected data after the JSON object", "(body)")
	}
	if _, err := dec.Token(); err != io.EOF {
		return newError(http.StatusBadRequest, "malformed_json", "JSON 对象之后还有多余内容", "unexpected data after the JSON object", "(body)")
	}
	return nil
}

func jsonError(body []byte, err error, v any) *apiError {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return newError(http.StatusBadRequest, "malformed_json",
			fmt.Sprintf("JSON 格式错误（第 %d 字节）", se.Offset),
			fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se), "(body)")
	case errors.As(err, &te):
		if te.Field == "" {
			zh, en := describeObject(v)
			return newError(http.StatusBadRequest, "wrong_type",
				fmt.Sprintf("请求体应为 %s，实际为 %s", zh, jsonKindZH(te.Value)),
				fmt.Sprintf("the body must be %s, got %s", en, jsonKindEN(te.Value)), "(body)")
		}
		zh, en := jsonTypeOf(te.Type)
		return newError(http.StatusBadRequest, "wrong_type",
			fmt.Sprintf("字段 %s 类型错误：应为%s，实际为%s", te.Field, zh, jsonKindZH(te.Value)),
			fmt.Sprintf("field %s: want %s, got %s", te.Field, en, jsonKindEN(te.Value)), te.Field)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return newError(http.StatusBadRequest, "malformed_json", "JSON 不完整", "truncated JSON", "(body)")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if uq, err := strconv.Unquote(name); err == nil {
			name = uq
		}
		field := name
		if field == "" {
			field = `""` // an empty key still needs naming
		}
		return newError(http.StatusBadRequest, "unknown_field",
			fmt.Sprintf("未知字段 %q", name), fmt.Sprintf("unknown field %q", name), field)
	}
	return newError(http.StatusBadRequest, "malformed_json", "JSON 无法解析", err.Error(), "(body)")
}

// requiredError is the 400 for a missing required field.
func requiredError(field string) *apiError {
	return newError(http.StatusBadRequest, "missing_field",
		fmt.Sprintf("缺少必填字段 %s", field), fmt.Sprintf("field %s is required", field), field)
}

// invalidField is the 400 for a field with a wrong value.
func invalidField(field, zh, en string) *apiError {
	return newError(http.StatusBadRequest, "invalid_field", fmt.Sprintf("字段 %s：%s", field, zh), fmt.Sprintf("field %s: %s", field, en), field)
}

// textField is one string field checked by checkText.
type textField struct {
	name      string
	value     string
	max       int  // in characters
	multiline bool // allow \n and \t (summaries, results, reasons)
}

// checkText refuses overlong values and control characters: ticket ids and
// categories travel on as SIP headers and channel variables, where a CR or LF
// would forge a header.
func checkText(fields ...textField) *apiError {
	for _, f := range fields {
		if n := utf8.RuneCountInString(f.value); n > f.max {
			return invalidField(f.name, fmt.Sprintf("不超过 %d 字（现 %d 字）", f.max, n), fmt.Sprintf("at most %d characters, got %d", f.max, n))
		}
		if !utf8.ValidString(f.value) {
			return invalidField(f.name, "不是有效的 UTF-8 文本", "not valid UTF-8")
		}
		for _, r := range f.value {
			if f.multiline && (r == '\n' || r == '\t') {
				continue
			}
			if unicode.IsControl(r) {
				return invalidField(f.name, fmt.Sprintf("含有控制字符 %U", r), fmt.Sprintf("contains control character %U", r))
			}
		}
	}
	return nil
}

// describeObject says in plain words which JSON object a request body must be:
// `JSON 对象 {"key", "ticket_id", …}` from the json tags of v's struct type.
func describeObject(v any) (zh, en string) {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return "JSON 对象", "a JSON object"
	}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, strconv.Quote(name))
	}
	list := "{" + strings.Join(names, ", ") + "}"
	return "JSON 对象 " + list, "a JSON object " + list
}

// jsonTypeOf names the JSON type a Go field type accepts.
func jsonTypeOf(t reflect.Type) (zh, en string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "字符串", "a string"
	case reflect.Bool:
		return "布尔值（true/false）", "a boolean (true/false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "整数", "an integer"
	case reflect.Float32, reflect.Float64:
		return "数字", "a number"
	case reflect.Slice, reflect.Array:
		return "数组", "an array"
	case reflect.Map, reflect.Struct:
		if t.PkgPath() == "time" && t.Name() == "Time" {
			return "RFC 3339 时间字符串", "an RFC 3339 time string"
		}
		return "JSON 对象", "a JSON object"
	}
	return "其他类型", "another type"
}

var jsonKinds = map[string][2]string{
	"string": {"字符串", "a string"}, "number": {"数字", "a number"}, "bool": {"布尔值", "a boolean"},
	"array": {"数组", "an array"}, "object": {"JSON 对象", "an object"}, "null": {"null", "null"},
}

// jsonKindZH / jsonKindEN name the JSON kind encoding/json reports in UnmarshalTypeError.Value
// ("number 1e999" is a number out of range).
func jsonKindZH(v string) string {
	if k, ok := jsonKinds[v]; ok {
		return k[0]
	}
	if strings.HasPrefix(v, "number ") {
		return "超出范围的数字 " + strings.TrimPrefix(v, "number ")
	}
	return v
}

func jsonKindEN(v string) string {
	if k, ok := jsonKinds[v]; ok {
		return k[1]
	}
	if strings.HasPrefix(v, "number ") {
		return "the out-of-range number " + strings.TrimPrefix(v, "number ")
	}
	return v
}

// jsonFrame is one open object or array while checkKeysAndText walks a body.
type jsonFrame struct {
	path   string
	object bool
	keys   map[string]bool
	key    string // last key read (objects)
	want   bool   // objects: the next token is a key
	index  int    // arrays: index of the next element
}

// checkKeysAndText refuses what encoding/json would accept silently: a key given
// twice in one object (the last would win) and invalid UTF-8 inside a string (it
// would become U+FFFD). Both answers name the field. A body that is not valid
// JSON passes here and is reported by the decoder.
func checkKeysAndText(body []byte) *apiError {
	bad := -1
	if !utf8.Valid(body) {
		for i := 0; i < len(body); {
			r, n := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && n <= 1 {
				bad = i
				break
			}
			i += n
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*jsonFrame
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil // end of body, or a syntax error the decoder will name
		}
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		_, isString := tok.(string)
		isKey := isString && top != nil && top.object && top.want
		if str, ok := tok.(string); ok && bad < 0 && strings.ContainsRune(str, utf8.RuneError) && loneSurrogate(body[start:dec.InputOffset()]) {
			bad = int(start) // an escaped lone surrogate (\ud800) decodes to U+FFFD as well
		}
		if bad >= 0 && int64(bad) < dec.InputOffset() {
			field := "(body)"
			switch {
			case isKey && top.path != "":
				field = top.path
			case !isKey && top != nil:
				field = elemPath(top)
			}
			return newError(http.StatusBadRequest, "invalid_utf8",
				fmt.Sprintf("字段 %s 含有无效的 UTF-8 字节（第 %d 字节）", field, bad),
				fmt.Sprintf("field %s: invalid UTF-8 at byte %d", field, bad), field)
		}
		if isKey {
			k, _ := tok.(string)
			if top.keys[k] {
				field := joinPath(top.path, k)
				return newError(http.StatusBadRequest, "duplicate_field",
					fmt.Sprintf("字段 %s 重复出现", field), fmt.Sprintf("field %s is given twice", field), field)
			}
			top.keys[k] = true
			top.key, top.want = k, false
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				afterValue(stack[len(stack)-1])
			}
			continue
		}
		path := ""
		if top != nil {
			path = elemPath(top)
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &jsonFrame{path: path, object: d == '{', keys: map[string]bool{}, want: d == '{'})
			continue
		}
		if top != nil {
			afterValue(top)
		}
	}
}

// elemPath is the path of the value about to be read in f.
func elemPath(f *jsonFrame) string {
	if f.object {
		return joinPath(f.path, f.key)
	}
	return fmt.Sprintf("%s[%d]", f.path, f.index)
}

func afterValue(f *jsonFrame) {
	if f.object {
		f.want = true
	} else {
		f.index++
	}
}

func joinPath(parent, key string) string {
	if key == "" {
		key = `""` // an empty key still needs naming
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// loneSurrogate reports whether raw JSON text holds a \uD800-\uDFFF escape that
// is not part of a surrogate pair (encoding/json turns it into U+FFFD).
func loneSurrogate(raw []byte) bool {
	hex4 := func(b []byte) (rune, bool) {
		if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) && raw[i+1] != 'u' {
			i++ // an escaped backslash or quote: skip its second byte
			continue
		}
		r, ok := hex4(raw[i:])
		if !ok {
			continue
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if lo, ok := hex4(raw[i+6:]); ok && lo >= 0xDC00 && lo < 0xE000 {
				i += 11
				continue
			}
			return true
		case r >= 0xDC00 && r < 0xE000:
			return true
		}
		i += 5
	}
	return false
}
