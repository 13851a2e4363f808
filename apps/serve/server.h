// lowbit serve's HTTP server (cpp-httplib, Debian's libcpp-httplib-dev): routes to the pages of
// apps/serve/pages.h, each database opened read-only per request (the same guarded open as
// lowbit query: no request can write), GET and HEAD only, nothing served from the file system.
// A host other than the loopback needs a token, which every request must carry (?token= once,
// then a cookie).
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below apps/
#ifndef LOWBIT_MAY_INCLUDE_APPS
#error "this room may not include apps/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <memory>
#include <string>
#include <vector>

namespace lowbit {

struct ServeOptions {
  std::vector<std::string> dbs;  ///< at least one; every one must exist
  std::string shard_dir = "";
  std::string host = "127.0.0.1";
  int port = 8321;  ///< 0: any free port
  std::string token = "";
};

/// Throws ConfigError for options that cannot be served: no database, a missing one, a
/// non-loopback host without --token, a port outside 0..65535.
void check_serve_options(const ServeOptions& o);

class WebServer {
 public:
  explicit WebServer(ServeOptions o);
  ~WebServer();
  /// Binds host:port (ConfigError naming them when it cannot) and returns the port bound.
  int bind();
  /// Serves until stop(); call after bind().
  void serve();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit
