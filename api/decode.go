package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
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
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, err)
	}
	if dec.More() {
		return newError(http.StatusBadRequest, "malformed_json", "JSON 对象之后还有多余内容", "unexpected data after the JSON object", "(body)")
	}
	if _, err := dec.Token(); err != io.EOF {
		return newError(http.StatusBadRequest, "malformed_json", "JSON 对象之后还有多余内容", "unexpected data after the JSON object", "(body)")
	}
	return nil
}

func jsonError(body []byte, err error) *apiError {
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
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return newError(http.StatusBadRequest, "wrong_type",
			fmt.Sprintf("字段 %s 类型错误：应为 %s，实际为 %s", field, te.Type.String(), te.Value),
			fmt.Sprintf("field %s: want %s, got %s", field, te.Type.String(), te.Value), field)
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
