package handshake

// Codes of a worker's start-up errors (StartupError.Code, from the ready
// pipe) and hello refusals (host.RefusedError's code). Match these, never
// the message text; the set is written up in PROTOCOL.md ("Error codes").
const (
	// CodeSerializerMismatch: host and worker use different serializers.
	// Fields: host, worker (serializer names).
	CodeSerializerMismatch = "serializer-mismatch"
	// CodeSerializerCollision: two different serializers share a name.
	// Fields: name, host, worker (fingerprints).
	CodeSerializerCollision = "serializer-collision"
	// CodeVersionMismatch: no protocol version in common. Fields: host,
	// worker (comma-separated version lists).
	CodeVersionMismatch = "version-mismatch"
	// CodeAuthFailed: the hello carried the wrong auth token.
	CodeAuthFailed = "auth-failed"
	// CodeBusy: the worker already serves another host.
	CodeBusy = "busy"
	// CodeShuttingDown: the worker is on its way out; start a new one.
	CodeShuttingDown = "shutting-down"
	// CodeStartup: any other start-up failure (listen, chmod, ...).
	CodeStartup = "startup"
)
