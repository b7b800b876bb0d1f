package main

import (
	"fmt"
	"log/slog"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"linkctl/config"
	"linkctl/sip/siplog"
)

// newLogger builds the process logger from the log section and routes the
// standard library's slog (used by sipgo) into it, so that nothing prints on its own.
func newLogger(c config.LogConfig) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	var zc zap.Config
	if c.Format == "json" {
		zc = zap.NewProductionConfig()
	} else {
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	log, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("build logger: %w", err)
	}
	slog.SetDefault(siplog.New(log.Named("slog")))
	return log, nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "linkctl: "+format+"\n", args...)
	os.Exit(1)
}
