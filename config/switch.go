package config

// SwitchConfig: owned by the switch area; fields are added with the code that uses them.
type SwitchConfig struct{}

func (c *SwitchConfig) setDefaults() {}

func (c *SwitchConfig) validate(v *validator) {}
