package config

// SIPConfig: owned by the sip area; fields are added with the code that uses them.
type SIPConfig struct{}

func (c *SIPConfig) setDefaults() {}

func (c *SIPConfig) validate(v *validator) {}
