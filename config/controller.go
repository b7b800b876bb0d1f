package config

// ControllerConfig: owned by the callflow area; fields are added with the code that uses them.
type ControllerConfig struct {
	// MattersFile is the transfer matters list (TSV: direction, category, subcategory,
	// description). Empty means the built-in copy of the policy's list.
	MattersFile string `yaml:"matters_file"`
}

func (c *ControllerConfig) setDefaults() {}

func (c *ControllerConfig) validate(v *validator, root *Config) {
	m, err := LoadMatters(c.MattersFile)
	if err != nil {
		var ps Problems
		if asProblems(err, &ps) {
			v.problems = append(v.problems, ps...)
		} else {
			v.add("controller.matters_file", err.Error())
		}
		return
	}
	root.Matters = m
}
