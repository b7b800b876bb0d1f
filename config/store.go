package config

// StoreConfig: owned by the store area; fields are added with the code that uses them.
type StoreConfig struct{}

func (c *StoreConfig) setDefaults() {}

func (c *StoreConfig) validate(v *validator) {}
