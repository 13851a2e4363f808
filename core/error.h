// Typed errors thrown by library code. Only the command line's main() catches them,
// prints one line and maps them to an exit code (see ExitCode).
#pragma once
#include <stdexcept>
#include <string>

namespace lowbit {

/// Exit codes of the `lowbit` binary.
enum ExitCode : int {
  kExitSuccess = 0,
  kExitFailure = 1,   // anything that is not the user's input
  kExitBadInput = 2,  // config, data, arguments, database path
  kExitDiskFull = 3,  // a write failed for lack of space: free some and run again
  kExitInterrupted = 130,
};

/// Base of every lowbit error; `what()` is the whole one-line message.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  virtual ExitCode exit_code() const { return kExitFailure; }
};

/// The user's input is wrong: a config key, a value, an argument. Exit code 2.
class ConfigError : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return kExitBadInput; }
};

/// A data file is missing, truncated or of the wrong format. Exit code 2.
class DataError : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return kExitBadInput; }
};

/// The results database cannot be opened or written. Exit code 2 when the
/// path is the user's mistake (bad_input = true), 1 otherwise.
class StoreError : public Error {
 public:
  explicit StoreError(const std::string& msg, bool bad_input = false)
      : Error(msg), bad_input_(bad_input) {}
  ExitCode exit_code() const override { return bad_input_ ? kExitBadInput : kExitFailure; }

 private:
  bool bad_input_;
};

/// A file or the database could not be written because its file system is full. Exit
/// code 3, so that `lowbit grid` can tell it from a run's own failure and stop spawning
/// workers that would only fail the same way.
class DiskFullError : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return kExitDiskFull; }
};

/// The user pressed Ctrl-C or the process got SIGTERM. Exit code 130.
class Interrupted : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return kExitInterrupted; }
};

}  // namespace lowbit
