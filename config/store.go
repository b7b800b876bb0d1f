package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// StoreConfig configures call-record persistence, the ticket-system outbox and
// the confidentiality policy applied to everything that leaves linkctl.
type StoreConfig struct {
	// Driver is "sqlite" (default) or "postgres". A non-empty DSN selects postgres
	// when Driver is left empty.
	Driver string `yaml:"driver"`
	// Path is the SQLite file (default linkctl.db in the working directory).
	Path string `yaml:"path"`
	// DSN is the PostgreSQL connection string; may be "${ENV_VAR}".
	DSN string `yaml:"dsn"`
	// WriteQueue bounds how many distinct calls SaveCall buffers while the
	// database is failing (each call keeps only its newest version).
	WriteQueue int `yaml:"write_queue"`
	// RetryMin / RetryMax bound the writer's backoff while the database fails.
	RetryMin Duration `yaml:"retry_min"`
	RetryMax Duration `yaml:"retry_max"`
	// Outbox tunes ticket-system delivery.
	Outbox OutboxConfig `yaml:"outbox"`
	// TicketSystems are the 12345 工单系统 and 110 警情系统 that receive call
	// records and pushes. None configured: records are stored, nothing is sent.
	TicketSystems []TicketSystemConfig `yaml:"ticket_systems"`
	// Confidentiality is the 110 side's restricted-knowledge policy.
	Confidentiality ConfidentialityConfig `yaml:"confidentiality"`
}

// OutboxConfig tunes the delivery worker.
type OutboxConfig struct {
	// BackoffMin is the first retry delay; it doubles per attempt (with ±20% jitter) up to BackoffMax.
	BackoffMin Duration `yaml:"backoff_min"`
	BackoffMax Duration `yaml:"backoff_max"`
	// Poll is how often the worker looks for due retries when nothing new arrives.
	Poll Duration `yaml:"poll"`
	// Batch is how many due rows one worker pass loads.
	Batch int `yaml:"batch"`
}

// TicketSystemConfig is one ticket system reached over HTTP.
type TicketSystemConfig struct {
	// Name identifies the system in the outbox and in logs (default: the platform).
	Name string `yaml:"name"`
	// Platform is "12345" (工单系统) or "110" (警情系统); it decides redaction.
	Platform string `yaml:"platform"`
	// URL receives POSTed JSON documents.
	URL string `yaml:"url"`
	// Secret is the HMAC-SHA256 key; may be "${ENV_VAR}". Never logged.
	Secret string `yaml:"secret"`
	// Timeout bounds one delivery attempt.
	Timeout Duration `yaml:"timeout"`
}

// SecretValue returns the HMAC key with ${ENV} expanded.
func (t TicketSystemConfig) SecretValue() string { return ExpandEnv(t.Secret) }

// ConfidentialityConfig marks 110 matters under restricted knowledge
// (涉密、涉稳、涉恐、涉案、重大敏感): such records and pushes reach the 12345 side
// only with the fields listed here; every other field is absent.
type ConfidentialityConfig struct {
	// RestrictedCategories are matters-list names, "大类" (all its 小类) or "大类/小类".
	RestrictedCategories []string `yaml:"restricted_categories"`
	// RestrictedFlags are the flags that make an item restricted.
	RestrictedFlags []string `yaml:"restricted_flags"`
	// RecordFields12345 are the call-record JSON fields a restricted record keeps for 12345.
	RecordFields12345 []string `yaml:"record_fields_12345"`
	// PushFields12345 are the push JSON fields a restricted push keeps for 12345.
	PushFields12345 []string `yaml:"push_fields_12345"`
}

// DefaultRestrictedFlags are the policy's five restricted-knowledge flags.
var DefaultRestrictedFlags = []string{"涉密", "涉稳", "涉恐", "涉案", "重大敏感"}

func (c *StoreConfig) setDefaults() {
	c.Path = "linkctl.db"
	c.WriteQueue = 4096
	c.RetryMin = Duration(200 * time.Millisecond)
	c.RetryMax = Duration(10 * time.Second)
	c.Outbox = OutboxConfig{
		BackoffMin: Duration(time.Second),
		BackoffMax: Duration(5 * time.Minute),
		Poll:       Duration(time.Second),
		Batch:      32,
	}
	c.Confidentiality.RestrictedFlags = append([]string(nil), DefaultRestrictedFlags...)
	c.Confidentiality.RecordFields12345 = []string{
		"id", "first_platform", "owner_platform", "ticket_12345", "state",
		"started", "ended", "outcome", "version",
	}
	c.Confidentiality.PushFields12345 = []string{
		"id", "direction", "ticket_12345", "status", "created", "updated", "version",
	}
}

// EffectiveDriver is the driver in use: postgres when chosen or when only a DSN is set.
func (c *StoreConfig) EffectiveDriver() string {
	if c.Driver == "" && c.DSN != "" {
		return "postgres"
	}
	if c.Driver == "" {
		return "sqlite"
	}
	return c.Driver
}

// DSNValue returns the PostgreSQL DSN with ${ENV} expanded. Never logged.
func (c *StoreConfig) DSNValue() string { return ExpandEnv(c.DSN) }

func (c *StoreConfig) validate(v *validator) {
	switch c.EffectiveDriver() {
	case "sqlite":
		if c.Path == "" {
			v.add("store.path", "must not be empty with the sqlite driver (default linkctl.db)")
		}
	case "postgres":
		if c.DSN == "" {
			v.add("store.dsn", "required with the postgres driver")
		} else if c.DSNValue() == "" {
			v.add("store.dsn", fmt.Sprintf("environment variable in %s is empty", c.DSN))
		}
	default:
		v.add("store.driver", fmt.Sprintf("unknown driver %q (sqlite, postgres)", c.Driver))
	}
	if c.WriteQueue <= 0 {
		v.add("store.write_queue", "must be positive, e.g. 4096")
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		v.add("store.retry_min", "retry_min must be positive and not above retry_max")
	}
	o := c.Outbox
	if o.BackoffMin <= 0 || o.BackoffMax < o.BackoffMin {
		v.add("store.outbox.backoff_min", "backoff_min must be positive and not above backoff_max")
	}
	if o.Poll <= 0 {
		v.add("store.outbox.poll", "must be positive, e.g. 1s")
	}
	if o.Batch <= 0 {
		v.add("store.outbox.batch", "must be positive, e.g. 32")
	}
	names := map[string]bool{}
	for i := range c.TicketSystems {
		t := &c.TicketSystems[i]
		key := fmt.Sprintf("store.ticket_systems[%d]", i)
		if t.Platform != "12345" && t.Platform != "110" {
			v.add(key+".platform", fmt.Sprintf("%q is not a platform (12345 or 110)", t.Platform))
		}
		if t.Name == "" {
			t.Name = t.Platform
		}
		if names[t.Name] {
			v.add(key+".name", fmt.Sprintf("%q is used by another ticket system", t.Name))
		}
		names[t.Name] = true
		if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(key+".url", fmt.Sprintf("%q is not an http(s) URL", t.URL))
		}
		if t.Secret == "" {
			v.add(key+".secret", "required (HMAC-SHA256 key; may be ${ENV_VAR})")
		} else if t.SecretValue() == "" {
			v.add(key+".secret", fmt.Sprintf("environment variable in %s is empty", t.Secret))
		}
		if t.Timeout == 0 {
			t.Timeout = Duration(10 * time.Second)
		}
		if t.Timeout < 0 {
			v.add(key+".timeout", "must be positive, e.g. 10s")
		}
	}
	for i, cat := range c.Confidentiality.RestrictedCategories {
		if strings.TrimSpace(cat) == "" {
			v.add(fmt.Sprintf("store.confidentiality.restricted_categories[%d]", i), "must not be empty")
		}
	}
	if len(c.Confidentiality.RecordFields12345) == 0 || !storeListHas(c.Confidentiality.RecordFields12345, "id") {
		v.add("store.confidentiality.record_fields_12345", `must include "id"`)
	}
	if len(c.Confidentiality.PushFields12345) == 0 || !storeListHas(c.Confidentiality.PushFields12345, "id") {
		v.add("store.confidentiality.push_fields_12345", `must include "id"`)
	}
}

func storeListHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
