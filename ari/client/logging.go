package client

import (
	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/inconshreveable/log15"
	"go.uber.org/zap"
)

// RouteLibraryLogs sends the ari/v5 native client's global log15 logger to zap
// (at debug level, with the library's key/value pairs), so that any code in the
// process that still uses the library's own client does not print on its own.
func RouteLibraryLogs(log *zap.Logger) {
	l := log.Named("ari-v5")
	native.Logger.SetHandler(log15.FuncHandler(func(r *log15.Record) error {
		fields := make([]zap.Field, 0, len(r.Ctx)/2+1)
		for i := 0; i+1 < len(r.Ctx); i += 2 {
			k, _ := r.Ctx[i].(string)
			fields = append(fields, zap.Any(k, r.Ctx[i+1]))
		}
		fields = append(fields, zap.String("lvl", r.Lvl.String()))
		l.Debug(r.Msg, fields...)
		return nil
	}))
}
