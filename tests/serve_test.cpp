// lowbit serve over HTTP, with cpp-httplib's own client: every page and every error, on a copy of
// the committed fixture database (experiments with runs of every status), the token, a
// database being written meanwhile, and that no request changes the file.
#include <doctest/doctest.h>

#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "apps/serve/pages.h"
#include "apps/serve/server.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/sha256.h"
#include "tests/test_util.h"
#include "tracker/sqlite.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {

const std::string kFixtures = std::string(LOWBIT_SOURCE_DIR) + "/tests/fixtures";

// A server on a free loopback port, serving on its own thread until destroyed.
struct Running {
  WebServer server;
  int port;
  std::thread thread;
  explicit Running(ServeOptions o) : server((o.port = 0, o)), port(server.bind()), thread([this] { server.serve(); }) {}
  ~Running() {
    server.stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(20);
    return c;
  }
};

std::string fixture_copy(const TempDir& d) {
  const std::string db = d / "results.db";
  REQUIRE(std::system(fmt::format("cp '{}/fixture-v9.db' '{}'", kFixtures, db).c_str()) == 0);
  return db;
}

bool has(const std::string& body, const std::string& what) { return body.find(what) != std::string::npos; }

}  // namespace

TEST_CASE("serve: every page answers from the database, and no request changes it") {
  TempDir d;
  const std::string db = fixture_copy(d);
  const std::string before = sha256_hex(read_file(db));
  Running s({{db}});
  auto c = s.client();

  auto home = c.Get("/");
  REQUIRE(home);
  CHECK(home->status == 200);
  for (const char* e : {"fixture", "fixture_reuse", "fixture_live"}) CHECK(has(home->body, fmt::format("id=\"total-{}\"", e)));
  CHECK(has(home->body, "id=\"n-fixture_live-running\">1<"));  // one running run, counted
  CHECK(has(home->body, "setInterval(poll, 3000)"));

  auto progress = c.Get("/api/progress");
  REQUIRE(progress);
  CHECK(progress->get_header_value("Content-Type") == "application/json");
  CHECK(has(progress->body, "\"name\":\"fixture_live\""));

  auto runs = c.Get("/runs?e=fixture");
  REQUIRE(runs);
  CHECK(runs->status == 200);
  CHECK(has(runs->body, "<table id=\"runs\">"));
  CHECK(has(runs->body, "<a href=\"/run?db=0&amp;id=1\">1</a>"));
  CHECK(has(runs->body, "name=\"sel\" value=\"1\""));
  // Sorted by a summary column, descending: the best final accuracy first.
  auto sorted = c.Get("/runs?e=fixture&sort=final_test_acc&desc=1");
  REQUIRE(sorted);
  CHECK(sorted->status == 200);
  CHECK(has(sorted->body, "final_test_acc ▼"));
  // The filter language, and paging: one page of the whole database.
  auto filtered = c.Get("/runs?e=fixture&where=" + web::url_encode("status = done"));
  REQUIRE(filtered);
  CHECK(has(filtered->body, "where status = done"));
  CHECK(!has(filtered->body, "status-failed\">failed"));

  // Run 1's log, as its worker would have written it: the page shows its last 40 lines.
  {
    Db conn(db, Db::Mode::kReadOnly);
    auto st = conn.prepare("SELECT config_hash FROM runs WHERE id = 1");
    REQUIRE(st.step());
    const std::string dir = db + ".runs/" + st.get_text(0);
    REQUIRE(std::system(("mkdir -p '" + dir + "'").c_str()) == 0);
    std::string log;
    for (int i = 1; i <= 50; ++i) log += fmt::format("epoch {}/50 line\n", i);
    write_file(dir + "/log.txt", log);
  }
  auto run = c.Get("/run?id=1");
  REQUIRE(run);
  CHECK(has(run->body, "<pre id=\"log\">"));
  CHECK(has(run->body, "epoch 50/50 line"));
  CHECK(has(run->body, "epoch 11/50 line"));
  CHECK(!has(run->body, "epoch 10/50 line"));
  CHECK(run->status == 200);
  CHECK(has(run->body, "<svg class=\"chart\""));
  CHECK(has(run->body, "<polyline class=\"curve\""));
  CHECK(has(run->body, "<table id=\"provenance\">"));
  CHECK(has(run->body, "<table id=\"config\">"));

  auto cmp = c.Get("/compare?sel=fixture:fp&sel=1");
  REQUIRE(cmp);
  CHECK(cmp->status == 200);
  CHECK(has(cmp->body, "<polygon class=\"band\""));
  CHECK(has(cmp->body, "<pre id=\"diff\">"));

  auto report = c.Get("/report?e=fixture");
  REQUIRE(report);
  CHECK(report->status == 200);
  CHECK(has(report->body, "<table"));
  CHECK(has(report->body, "fixture"));

  CHECK(sha256_hex(read_file(db)) == before);
}

TEST_CASE("serve: bad requests get one line and a status, never a crash") {
  TempDir d;
  const std::string db = fixture_copy(d);
  Running s({{db}});
  auto c = s.client();
  const std::vector<std::tuple<std::string, int, std::string>> cases = {
      {"/run?id=999", 404, "no run 999"},
      {"/run?id=abc", 400, "id=abc: expected a whole number"},
      {"/run", 400, "which run?"},
      {"/runs?e=nope", 404, "no experiment"},
      {"/runs?e=fixture&where=" + web::url_encode("quant.bits <="), 400, "expected a value"},
      {"/runs?e=fixture&sort=bogus", 400, "sort bogus: not a column"},
      {"/runs?e=fixture&page=-1", 400, "page=-1"},
      {"/runs?db=7", 400, "db=7: expected a whole number in 0..0"},
      {"/compare", 400, "choose runs or cells"},
      {"/compare?sel=nosuch:variant", 400, ""},
      {"/report", 400, "which experiment?"},
      {"/report?e=nope", 404, ""},
      {"/../../etc/passwd", 404, ""},
      {"/nothing", 404, "no such page"},
      {"/runs?e=" + std::string(5000, 'x'), 400, "longer than 4000 characters"},
  };
  for (auto& [path, status, message] : cases) {
    auto r = c.Get(path);
    REQUIRE_MESSAGE(r, path);
    CHECK_MESSAGE(r->status == status, path, " -> ", r->status);
    CHECK_MESSAGE(has(r->body, message), path, ": ", r->body.substr(0, 400));
  }
  auto huge = c.Get("/runs?where=" + std::string(20000, 'a'));  // beyond the request line's limit
  REQUIRE(huge);
  CHECK(huge->status == 414);
  auto post = c.Post("/runs", "x", "text/plain");
  REQUIRE(post);
  CHECK(post->status == 405);
  auto del = c.Delete("/run?id=1");
  REQUIRE(del);
  CHECK(del->status == 405);
  // Still serving after all of that.
  auto ok = c.Get("/");
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("serve: pages answer while a grid writes the database (WAL)") {
  TempDir d;
  const std::string db = fixture_copy(d);
  { Db w(db, Db::Mode::kReadWrite); w.exec("PRAGMA journal_mode=WAL"); }
  Running s({{db}});
  auto c = s.client();
  Db writer(db, Db::Mode::kReadWrite);
  writer.exec("BEGIN IMMEDIATE");
  writer.exec("UPDATE runs SET status = 'running' WHERE id = 13");  // held, uncommitted
  auto r = c.Get("/runs?e=fixture_live");
  REQUIRE(r);
  CHECK(r->status == 200);
  writer.exec("COMMIT");
  auto after = c.Get("/api/progress");
  REQUIRE(after);
  CHECK(has(after->body, "[\"running\",2]"));  // the committed write is seen at once
}

TEST_CASE("serve: a token guards every request; beyond the loopback it is required") {
  TempDir d;
  const std::string db = fixture_copy(d);
  const std::string token = "0123456789abcdef0123";
  ServeOptions o{{db}};
  o.token = token;
  Running s(o);
  auto c = s.client();
  auto no = c.Get("/");
  REQUIRE(no);
  CHECK(no->status == 401);
  auto wrong = c.Get("/?token=0123456789abcdef0124");
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  auto yes = c.Get("/?token=" + token);
  REQUIRE(yes);
  CHECK(yes->status == 200);
  CHECK(has(yes->get_header_value("Set-Cookie"), "lowbit_token=" + token));
  auto cookie = c.Get("/runs?e=fixture", {{"Cookie", "lowbit_token=" + token}});
  REQUIRE(cookie);
  CHECK(cookie->status == 200);

  // A second server on a port in use is refused in one line, not started beside the first.
  ServeOptions same{{db}};
  same.port = s.port;
  WebServer second(same);
  CHECK(error_message<ConfigError>([&] { second.bind(); }) ==
        fmt::format("--host 127.0.0.1 --port {}: cannot listen there (in use? choose another --port)", s.port));

  ServeOptions open{{db}};
  open.host = "0.0.0.0";
  CHECK(error_message<ConfigError>([&] { check_serve_options(open); }) ==
        "--host 0.0.0.0: serving beyond this machine needs --token with 16 or more characters, which every request "
        "must carry (?token=...)");
  ServeOptions missing{{d / "none.db"}};
  CHECK(error_message<ConfigError>([&] { check_serve_options(missing); }) ==
        "--db " + d / "none.db" + ": no such database (run lowbit grid first, or check the path)");
  auto cli = run_lowbit("serve --db " + d / "none.db");
  CHECK(cli.code == 2);
  CHECK(cli.out == "lowbit: --db " + d / "none.db" + ": no such database (run lowbit grid first, or check the path)\n");
}

TEST_CASE("serve: a Slurm shard directory's status is on the experiments page and refreshed from /api/shards") {
  TempDir d;
  const std::string db = fixture_copy(d);
  ServeOptions o{{db}};
  o.shard_dir = d / "shards";  // not a shard directory: the page says so, as lowbit status would
  Running s(o);
  auto c = s.client();
  auto home = c.Get("/");
  REQUIRE(home);
  CHECK(home->status == 200);
  CHECK(has(home->body, "<pre id=\"shards\">"));
  auto shards = c.Get("/api/shards");
  REQUIRE(shards);
  CHECK(shards->status == 200);
  CHECK(shards->body == d / "shards" + "/plan.json: missing or empty; is " + d / "shards" +
                            " a shard directory (lowbit grid --backend slurm --shard-dir " + d / "shards" + ")?");
  CHECK(has(home->body, "fetch('api/shards'"));
}

TEST_CASE("serve: the inline chart draws each curve, its band and its label, scaled to the values") {
  const std::string svg = web::svg_chart("test_acc", "epoch", {{"a", {1, 2, 3}, {0.5, 0.6, 0.7}, {0.01, 0.02, 0.01}},
                                                               {"b & c", {1, 2}, {0.4, 0.45}, {0, 0}}});
  CHECK(has(svg, "aria-label=\"test_acc\""));
  CHECK(has(svg, ">b &amp; c</text>"));
  // x from 1 to 3 over [60, 500]; y from 0.4 (b's low) to 0.71 (a's last mean + std) over
  // [260, 30]: a's means 0.5, 0.6, 0.7 at y = 260 - (m - 0.4) / 0.31 * 230.
  CHECK(has(svg, "class=\"curve\" points=\"60.0,185.8 280.0,111.6 500.0,37.4 \""));
  CHECK(has(web::svg_chart("x", "epoch", {}), "no values yet"));
  CHECK(web::url_encode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
}
