package shared

import "time"

// Duration returns a pointer to d, for the options where nil means "the
// default" and a pointer to 0 means "no limit" (for example
// plugin.Config.HostConnectTimeout).
func Duration(d time.Duration) *time.Duration { return &d }
