#include "apps/serve/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <functional>

#include <fmt/format.h>
#include <httplib.h>

#include "apps/serve/pages.h"
#include "core/error.h"
#include "core/util.h"
#include "tracker/queries.h"

namespace lowbit {

namespace {

bool loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

// The token of a request: ?token= or the cookie set when it first came.
std::string request_token(const httplib::Request& req) {
  if (req.has_param("token")) return req.get_param_value("token");
  const std::string cookie = req.get_header_value("Cookie");
  const std::string key = "lowbit_token=";
  for (const std::string& part : split(cookie, ';')) {
    std::string t = part;
    t.erase(0, t.find_first_not_of(' '));
    if (t.rfind(key, 0) == 0) return t.substr(key.size());
  }
  return "";
}

// Constant-time comparison, so that the token cannot be guessed a character at a time.
bool same_token(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

}  // namespace

void check_serve_options(const ServeOptions& o) {
  if (o.dbs.empty()) throw ConfigError("--db: which results database? (lowbit serve --db results/results.db)");
  for (auto& db : o.dbs)
    if (::access(db.c_str(), R_OK) != 0)
      throw ConfigError("--db " + db + ": no such database (run lowbit grid first, or check the path)");
  if (o.port < 0 || o.port > 65535) throw ConfigError(fmt::format("--port {}: expected 0..65535 (0: any free)", o.port));
  if (!loopback(o.host) && o.token.size() < 16)
    throw ConfigError("--host " + o.host +
                      ": serving beyond this machine needs --token with 16 or more characters, which every request "
                      "must carry (?token=...)");
}

struct WebServer::Impl {
  ServeOptions opt;
  web::Site site;
  httplib::Server http;

  using Page = std::function<std::string(const web::Params&, size_t)>;

  void route(const std::string& path, const std::string& type, Page page) {
    http.Get(path, [this, type, page](const httplib::Request& req, httplib::Response& res) {
      web::Params p(req.params.begin(), req.params.end());
      const size_t db = web::db_index(site, p);
      res.set_content(page(p, db), type);
    });
  }

  explicit Impl(ServeOptions o) : opt(std::move(o)) {
    site.dbs = opt.dbs, site.shard_dir = opt.shard_dir;
    // SO_REUSEADDR only: a restart can take its port back at once, but a second lowbit serve on
    // a port in use is refused (cpp-httplib's default, SO_REUSEPORT, would let both listen).
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    http.set_payload_max_length(1 << 16);
    http.set_read_timeout(10);
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.method != "GET" && req.method != "HEAD") {
        res.status = 405;
        res.set_header("Allow", "GET, HEAD");
        res.set_content(web::error_page(405, "lowbit serve is read-only: GET and HEAD only"), "text/html; charset=utf-8");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!opt.token.empty()) {
        if (!same_token(request_token(req), opt.token)) {
          res.status = 401;
          res.set_content(web::error_page(401, "this server needs its token: add ?token=... to the address"),
                          "text/html; charset=utf-8");
          return httplib::Server::HandlerResponse::Handled;
        }
        if (req.has_param("token"))
          res.set_header("Set-Cookie", "lowbit_token=" + opt.token + "; HttpOnly; SameSite=Strict; Path=/");
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      int status = 500;
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const ConfigError& e) {
        status = 400, what = e.what();
      } catch (const StoreError& e) {  // bad input: no such experiment, run or database
        status = e.exit_code() == kExitBadInput ? 404 : 500, what = e.what();
      } catch (const std::exception& e) {
        what = e.what();
      }
      res.status = status;
      res.set_content(web::error_page(status, what.substr(0, what.find('\n'))), "text/html; charset=utf-8");
    });
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;  // a page's own error
      res.set_content(web::error_page(res.status, res.status == 404 ? "no such page: " + truncate_for_message(req.path)
                                                                    : "bad request"),
                      "text/html; charset=utf-8");
    });
    const std::string html = "text/html; charset=utf-8";
    route("/", html, [this](const web::Params&, size_t db) {
      return web::experiments_page(site, *open_readonly(site.dbs[db]), db);
    });
    route("/api/progress", "application/json",
          [this](const web::Params&, size_t db) { return web::progress_json(*open_readonly(site.dbs[db])); });
    route("/api/shards", "text/plain; charset=utf-8",
          [this](const web::Params&, size_t) { return web::shards_text(site); });
    route("/runs", html, [this](const web::Params& p, size_t db) {
      return web::runs_page(site, *open_readonly(site.dbs[db]), db, p);
    });
    route("/run", html, [this](const web::Params& p, size_t db) {
      return web::run_page(site, *open_readonly(site.dbs[db]), db, p);
    });
    route("/compare", html, [this](const web::Params& p, size_t db) {
      return web::compare_page(site, *open_readonly(site.dbs[db]), db, p);
    });
    route("/report", html, [this](const web::Params& p, size_t db) { return web::report_page(site, db, p); });
  }
};

WebServer::WebServer(ServeOptions o) : impl_(std::make_unique<Impl>(std::move(o))) { check_serve_options(impl_->opt); }
WebServer::~WebServer() = default;

int WebServer::bind() {
  const auto& o = impl_->opt;
  const int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host) : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0)
    throw ConfigError(fmt::format("--host {} --port {}: cannot listen there (in use? choose another --port)", o.host, o.port));
  return port;
}

void WebServer::serve() { impl_->http.listen_after_bind(); }
void WebServer::stop() { impl_->http.stop(); }

}  // namespace lowbit
