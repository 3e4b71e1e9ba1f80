package statushub

import "errors"

// Errors callers can match with errors.Is. Configuration errors wrap
// ErrInvalidConfig and name the field that is wrong.
var (
	// ErrSlowSubscriber is what Subscription.Err returns after the hub
	// disconnected the subscription because it stopped reading
	// (HubConfig.StallTimeout) or had more jobs waiting than HubConfig.MaxJobs.
	ErrSlowSubscriber = errors.New("status subscriber too slow: it stopped reading or had too many jobs waiting, so it was disconnected")

	// ErrHubClosed is returned by Subscribe after Hub.Close, and by
	// Subscription.Err for subscriptions that Hub.Close ended.
	ErrHubClosed = errors.New("status hub closed")

	// ErrInvalidConfig is wrapped by HubConfig.Validate and
	// EndpointConfig.Validate.
	ErrInvalidConfig = errors.New("invalid configuration")
)
