package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"linkctl/ari/trace"
	"linkctl/ari/trace/tracetest"
)

type specProp struct {
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

type specModel struct {
	ID         string              `json:"id"`
	Properties map[string]specProp `json:"properties"`
	SubTypes   []string            `json:"subTypes"`
}

var (
	specOnce   sync.Once
	specModels map[string]specModel
	specErr    error
	// specDir finds the shared ari-spec folder once (trace.SpecDir).
	specDir = sync.OnceValues(trace.SpecDir)
)

// models loads every model of every ari-spec file.
func models(t *testing.T) map[string]specModel {
	t.Helper()
	dir, err := specDir()
	if err != nil {
		tracetest.Need(t, specDir) // skips, or fails when LINKCTL_REQUIRE_SHARED=1
	}
	specOnce.Do(func() {
		t.Logf("ari-spec from %s", dir)
		specModels = map[string]specModel{}
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(files) == 0 {
			specErr = err
			return
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				specErr = err
				return
			}
			var doc struct {
				Models map[string]specModel `json:"models"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				specErr = err
				return
			}
			for k, m := range doc.Models {
				specModels[k] = m
			}
		}
	})
	if specErr != nil || len(specModels) == 0 {
		t.Fatalf("load ari-spec: %v", specErr)
	}
	return specModels
}

// checkModel reports every required property of model missing from v or of the wrong type.
func checkModel(t *testing.T, where, model string, v any) {
	t.Helper()
	ms := models(t)
	m, ok := ms[model]
	if !ok {
		t.Errorf("%s: no model %s in the spec", where, model)
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: %s is %T, want an object", where, model, v)
		return
	}
	for name, p := range m.Properties {
		val, present := obj[name]
		if !present {
			if p.Required {
				t.Errorf("%s: %s.%s is required but missing", where, model, name)
			}
			continue
		}
		checkType(t, where+"."+name, p.Type, val)
	}
}

func checkType(t *testing.T, where, typ string, v any) {
	t.Helper()
	switch {
	case typ == "string" || typ == "Date":
		if _, ok := v.(string); !ok {
			t.Errorf("%s: %v is %T, want string", where, v, v)
		}
	case typ == "int" || typ == "long" || typ == "double":
		if _, ok := v.(float64); !ok {
			t.Errorf("%s: %v is %T, want number", where, v, v)
		}
	case typ == "boolean":
		if _, ok := v.(bool); !ok {
			t.Errorf("%s: %v is %T, want boolean", where, v, v)
		}
	case typ == "object":
		if _, ok := v.(map[string]any); !ok {
			t.Errorf("%s: %v is %T, want object", where, v, v)
		}
	case strings.HasPrefix(typ, "List["):
		l, ok := v.([]any)
		if !ok {
			t.Errorf("%s: %v is %T, want list", where, v, v)
			return
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(typ, "List["), "]")
		for _, x := range l {
			checkType(t, where+"[]", inner, x)
		}
	default:
		if _, ok := models(t)[typ]; ok {
			checkModel(t, where, typ, v)
		}
	}
}

// validateEvent checks an event against Message, Event and its own model.
func validateEvent(t *testing.T, ev map[string]any) {
	t.Helper()
	typ, _ := ev["type"].(string)
	checkModel(t, typ, "Message", ev)
	checkModel(t, typ, "Event", ev)
	checkModel(t, typ, typ, ev)
	if ev["asterisk_id"] == nil {
		t.Errorf("%s: no asterisk_id", typ)
	}
}

// validateResponse recognises the answer's model by its keys and checks it.
func validateResponse(t *testing.T, where string, v any) {
	t.Helper()
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			validateResponse(t, where+"[]", e)
		}
	case map[string]any:
		has := func(k string) bool { _, ok := x[k]; return ok }
		switch {
		case has("dialplan") && has("protocol_id"):
			checkModel(t, where, "Channel", x)
		case has("bridge_type"):
			checkModel(t, where, "Bridge", x)
		case has("media_uri"):
			checkModel(t, where, "Playback", x)
		case has("bridge_ids"):
			checkModel(t, where, "Application", x)
		case has("resource") && has("technology"):
			checkModel(t, where, "Endpoint", x)
		case has("build"):
			checkModel(t, where, "AsteriskInfo", x)
			checkModel(t, where, "BuildInfo", x["build"])
			checkModel(t, where, "SystemInfo", x["system"])
			checkModel(t, where, "ConfigInfo", x["config"])
			checkModel(t, where, "StatusInfo", x["status"])
		case has("variables"):
			checkModel(t, where, "Variables", x)
		case has("value"):
			checkModel(t, where, "Variable", x)
		case has("message") || has("error"):
		default:
			t.Errorf("%s: answer of no known model: %v", where, x)
		}
	}
}
