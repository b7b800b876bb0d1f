package callflow

import (
	"errors"
	"strings"
	"testing"
)

// TestTransitionTableEveryStateAndInput checks every state x input pair against a
// grid written out independently of the transitions map: "-" is illegal.
func TestTransitionTableEveryStateAndInput(t *testing.T) {
	// columns: agent-answered agents-exhausted transfer three-way emergency hand-over keep
	//          undetermined cancel target-answered target-failed caller-hangup owner-hangup other-agent-hangup requeue
	grid := map[CallState][inputCount]string{
		StateRouting:          {"talking", "routing", "-", "-", "-", "-", "-", "-", "-", "-", "-", "ended", "-", "-", "-"},
		StateTalking:          {"-", "-", "transfer-ringing", "consult-ringing", "emergency-ringing", "-", "-", "-", "-", "-", "-", "ended", "ended", "-", "-"},
		StateTransferRinging:  {"-", "-", "-", "-", "-", "-", "-", "-", "talking", "talking", "talking", "ended", "transfer-ringing", "-", "routing"},
		StateConsultRinging:   {"-", "-", "-", "-", "-", "-", "-", "-", "talking", "three-way", "talking", "ended", "transfer-ringing", "-", "-"},
		StateEmergencyRinging: {"-", "-", "-", "-", "-", "-", "-", "-", "talking", "talking", "talking", "ended", "transfer-ringing", "-", "-"},
		StateThreeWay:         {"-", "-", "-", "-", "-", "talking", "talking", "talking", "-", "-", "-", "ended", "talking", "talking", "-"},
		StateEnded:            {"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"},
	}
	if len(grid) != int(StateEnded)+1 {
		t.Fatalf("grid covers %d states, want %d", len(grid), int(StateEnded)+1)
	}
	for from, row := range grid {
		for in := Input(0); in < inputCount; in++ {
			want := row[in]
			got, err := transition(from, in)
			if want == "-" {
				var te *TransitionError
				if !errors.As(err, &te) {
					t.Errorf("%s on %s: want illegal, got %s", from, in, got)
					continue
				}
				if te.From != from || te.Input != in || te.Reason == "" {
					t.Errorf("%s on %s: error %+v does not say from/on/why", from, in, te)
				}
				if !strings.Contains(err.Error(), from.String()) || !strings.Contains(err.Error(), in.String()) {
					t.Errorf("error text %q lacks from/input", err)
				}
				if got != from {
					t.Errorf("%s on %s: illegal input moved the state to %s", from, in, got)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s on %s: want %s, got error %v", from, in, want, err)
				continue
			}
			if got.String() != want {
				t.Errorf("%s on %s: got %s, want %s", from, in, got, want)
			}
		}
	}
}

func TestRefusalReasonsNameTheConflict(t *testing.T) {
	tests := []struct {
		from CallState
		in   Input
		want string
	}{
		{StateTransferRinging, InThreeWay, "一键转接正在进行中"},
		{StateConsultRinging, InTransfer, "三方通话正在呼叫"},
		{StateEmergencyRinging, InTransfer, "紧急转110正在进行中"},
		{StateThreeWay, InTransfer, "移交、保留或待定"},
		{StateTalking, InHandOver, "不在三方通话中"},
		{StateTalking, InCancel, "没有可取消的转接"},
		{StateThreeWay, InCancel, "三方通话已建立"},
		{StateRouting, InTransfer, "尚未接通坐席"},
		{StateEnded, InCancel, "通话已结束"},
	}
	for _, tt := range tests {
		_, err := transition(tt.from, tt.in)
		var te *TransitionError
		if !errors.As(err, &te) || !strings.Contains(te.Reason, tt.want) {
			t.Errorf("%s on %s: reason %v, want it to contain %q", tt.from, tt.in, err, tt.want)
		}
	}
}

func TestEnumStrings(t *testing.T) {
	seen := map[string]bool{}
	for s := StateRouting; s <= StateEnded; s++ {
		if strings.HasPrefix(s.String(), "CallState(") || seen[s.String()] {
			t.Errorf("state %d has no unique name: %s", int(s), s)
		}
		seen[s.String()] = true
	}
	for in := Input(0); in < inputCount; in++ {
		if strings.HasPrefix(in.String(), "Input(") || seen[in.String()+"#"] {
			t.Errorf("input %d has no unique name", int(in))
		}
		seen[in.String()+"#"] = true
	}
	if CallState(99).String() != "CallState(99)" || Input(99).String() != "Input(99)" {
		t.Error("out-of-range enums must print their number")
	}
}

func TestFeatureDecoder(t *testing.T) {
	codes := map[string]string{"transfer": "*1", "three-way": "*3", "cancel": "*0", "emergency": "*9", "keep": "*5"}
	tests := []struct {
		name   string
		digits string
		gap    int // ms between digits
		want   []Key
	}{
		{"transfer", "*1", 100, []Key{KeyTransfer}},
		{"two codes", "*1*0", 100, []Key{KeyTransfer, KeyCancel}},
		{"plain digits ignored", "12345", 100, nil},
		{"double star", "**3", 100, []Key{KeyThreeWay}},
		{"too slow", "*1", 5000, nil},
		{"unknown code", "*7", 100, nil},
		{"digits then code", "7*9", 100, []Key{KeyEmergency}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFeatureDecoder(codes, 3e9)
			at := testEpoch
			var got []Key
			for _, r := range tt.digits {
				if k, ok := d.feed(string(r), at); ok {
					got = append(got, k)
				}
				at = at.Add(msDur(tt.gap))
			}
			if strings.Join(keysStr(got), ",") != strings.Join(keysStr(tt.want), ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMetadataVariablesAndUUI(t *testing.T) {
	m := Metadata{CallID: "lk-1", TransferID: "t-1", Ticket: "GD-2026-000123", Category: "社会治安类/犬类管理", Agent: "a12345-1001",
		Origin: Platform12345, Role: RoleAgent110, Mode: ModeOneKey}
	v := m.Variables()
	want := map[string]string{
		"PJSIP_HEADER(add,X-Linkage-Call-Id)":   "lk-1",
		"PJSIP_HEADER(add,X-Linkage-Ticket)":    "GD-2026-000123",
		"PJSIP_HEADER(add,X-Linkage-Category)":  "社会治安类/犬类管理",
		"PJSIP_HEADER(add,X-Linkage-Origin)":    "12345",
		"PJSIP_HEADER(add,X-Linkage-Agent)":     "a12345-1001",
		"PJSIP_HEADER(add,X-Linkage-Mode)":      "one-key",
		"PJSIP_HEADER(add,X-Linkage-Emergency)": "0",
		"PJSIP_HEADER(add,User-to-User)":        "47442D323032362D303030313233;encoding=hex", // as in trace t03
		VarCallID:                               "lk-1", VarTransferID: "t-1", VarRole: "agent-110", VarCategory: "社会治安类/犬类管理",
	}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %q, want %q", k, v[k], w)
		}
	}
	if got := DecodeUUI(v["PJSIP_HEADER(add,User-to-User)"]); got != "GD-2026-000123" {
		t.Errorf("DecodeUUI = %q", got)
	}
	if got := DecodeUUI("plain"); got != "plain" {
		t.Errorf("DecodeUUI(plain) = %q", got)
	}
}

func TestEndpointOf(t *testing.T) {
	tests := map[string]string{
		"PJSIP/a110-2001-00000002":           "PJSIP/a110-2001",
		"PJSIP/citizen-0000000a":             "PJSIP/citizen",
		"Sim/a12345-1001":                    "Sim/a12345-1001",
		"Local/110@from-internal-00000001;1": "Local/110@from-internal-00000001;1",
	}
	for in, want := range tests {
		if got := endpointOf(in); got != want {
			t.Errorf("endpointOf(%q) = %q, want %q", in, got, want)
		}
	}
}
