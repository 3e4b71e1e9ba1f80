package host

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrChecksumMismatch: the worker executable's checksum is not the one
// Config.SecureConfig expects, so Start refused to run it. The error is a
// *ChecksumError.
var ErrChecksumMismatch = errors.New("worker executable checksum mismatch")

// SecureConfig makes Start verify the worker executable before it runs it,
// as go-plugin's SecureConfig does: Start hashes the file that exec will run
// (Cmd.Path; a relative path is taken relative to Cmd.Dir, as exec does)
// with a fresh Hash() and refuses a sum other than Checksum with a
// *ChecksumError. Nothing is spawned and no socket directory is created
// when it refuses.
//
// The checksum must come from a trusted source (a release manifest, the
// build that made the worker), not from the file's neighbourhood.
//
// It is a check at a point in time (TOCTOU): whoever can write the file can
// replace it between the check and the exec. Install workers where only
// trusted users can write (the file and every directory above it), as you
// would for any program you run. With a Config.Runner that wraps the
// command, the worker executable (Cmd.Path before the Runner rewrites it)
// is checked, not the wrapper, and the wrapper is trusted to run that very
// file.
//
// Attach refuses a config with a SecureConfig: an attached worker is already
// running and its executable cannot be checked.
type SecureConfig struct {
	// Checksum is the expected sum, e.g. the 32 bytes of a SHA-256.
	Checksum []byte
	// Hash returns a new hash, e.g. sha256.New.
	Hash func() hash.Hash
}

// Validate reports a SecureConfig that could never pass.
func (s *SecureConfig) Validate() error {
	if len(s.Checksum) == 0 {
		return errors.New("host: SecureConfig.Checksum is empty")
	}
	if s.Hash == nil {
		return errors.New("host: SecureConfig.Hash is nil: set it to a hash constructor, e.g. sha256.New")
	}
	if n := s.Hash().Size(); n != len(s.Checksum) {
		return fmt.Errorf("host: SecureConfig.Checksum is %d bytes, its Hash gives %d", len(s.Checksum), n)
	}
	return nil
}

// Check hashes the executable at path and compares the sum with Checksum
// in constant time. A mismatch is a *ChecksumError; a file that cannot be
// read, an error naming it.
func (s *SecureConfig) Check(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify worker executable: %w", err)
	}
	defer f.Close()
	h := s.Hash()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("verify worker executable: read %s: %w", path, err)
	}
	got := h.Sum(nil)
	if subtle.ConstantTimeCompare(got, s.Checksum) != 1 {
		return &ChecksumError{Path: path, Want: s.Checksum, Got: got}
	}
	return nil
}

// ChecksumError reports a worker executable whose checksum is not the
// expected one. It matches ErrChecksumMismatch with errors.Is.
type ChecksumError struct {
	Path string // the file that was hashed
	Want []byte // SecureConfig.Checksum
	Got  []byte // the file's sum
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("worker executable %s: checksum %s, want %s: refusing to start it",
		e.Path, hex.EncodeToString(e.Got), hex.EncodeToString(e.Want))
}

// Unwrap returns ErrChecksumMismatch.
func (e *ChecksumError) Unwrap() error { return ErrChecksumMismatch }

// execPath is the file exec.Cmd.Start runs for cmd: Path (exec.Command has
// already looked a bare name up in PATH), relative to Dir when relative.
func execPath(cmd *exec.Cmd) (string, error) {
	if cmd.Err != nil {
		return "", cmd.Err // exec.Command could not find it; Start would fail the same way
	}
	p := cmd.Path
	if !filepath.IsAbs(p) && cmd.Dir != "" {
		p = filepath.Join(cmd.Dir, p)
	}
	return p, nil
}

// verifyExecutable applies cfg.SecureConfig to the worker executable.
func (w *Worker) verifyExecutable() error {
	s := w.cfg.SecureConfig
	if s == nil {
		return nil
	}
	path, err := execPath(w.cfg.Cmd)
	if err != nil {
		return fmt.Errorf("verify worker executable: %w", err)
	}
	if err := s.Check(path); err != nil {
		return err
	}
	w.logger.Debug("worker executable checksum verified", "worker", w.cfg.Name, "path", path)
	return nil
}
