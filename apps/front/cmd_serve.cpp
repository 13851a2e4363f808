// lowbit serve: a live, read-only view of results databases in the browser (apps/serve/).
#include <signal.h>

#include <iostream>

#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/serve/server.h"
#include "core/error.h"

namespace lowbit {

namespace {
WebServer* g_server = nullptr;
void stop_serving(int) {
  if (g_server) g_server->stop();
}
}  // namespace

int cmd_serve(const std::vector<std::string>& args) {
  po::options_description desc("options");
  ServeOptions o;
  desc.add_options()("db", po::value(&o.dbs)->composing(), "results database (repeatable; default results/results.db)")(
      "shard-dir", po::value(&o.shard_dir), "a Slurm grid's shard directory: its runs by status, live")(
      "host", po::value(&o.host)->default_value(o.host), "address to listen on (beyond 127.0.0.1: --token required)")(
      "port", po::value(&o.port)->default_value(o.port), "port (0: any free one)")(
      "token", po::value(&o.token), "a secret every request must carry (?token=...); required beyond 127.0.0.1");
  po::variables_map vm;
  if (!parse_args("serve", args, desc, vm, nullptr,
                  "[--db FILE]... [--shard-dir DIR] [--port N] [--host HOST --token SECRET]"))
    return kExitSuccess;
  if (o.dbs.empty()) o.dbs = {"results/results.db"};
  WebServer server(o);
  const int port = server.bind();
  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = stop_serving;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  std::cout << fmt::format("lowbit serve: http://{}:{}/{} (read-only; Ctrl-C stops)", host, port,
                           o.token.empty() ? "" : "?token=" + o.token)
            << std::endl;
  server.serve();
  g_server = nullptr;
  return kExitSuccess;
}

}  // namespace lowbit
