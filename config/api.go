package config

// APIConfig: owned by the api area; fields are added with the code that uses them.
type APIConfig struct{}

func (c *APIConfig) setDefaults() {}

func (c *APIConfig) validate(v *validator) {}
