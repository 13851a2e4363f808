// The pages of lowbit serve, rendered on the server from the results database (read-only):
// plain HTML with inline SVG curves, the report's own tables, and a little plain JavaScript
// (polling the live counts). Each function takes the parsed request and returns the page;
// bad parameters throw ConfigError (400), a missing run or experiment StoreError (404).
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below apps/
#ifndef LOWBIT_MAY_INCLUDE_APPS
#error "this room may not include apps/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <map>
#include <string>
#include <vector>

#include "tracker/db_handle.h"

namespace lowbit::web {

/// A request's query parameters: each name with its values in order.
using Params = std::multimap<std::string, std::string>;

/// What a page needs to know besides its parameters.
struct Site {
  std::vector<std::string> dbs;  ///< --db files, selected by ?db=<index>
  std::string shard_dir;         ///< --shard-dir, or ""
};

/// The one value of `name`, or `fallback`; a value longer than 4,000 characters is a ConfigError.
std::string param(const Params& p, const std::string& name, const std::string& fallback = "");
/// The database index ?db= (0 by default), checked against the site's databases.
size_t db_index(const Site& site, const Params& p);

std::string experiments_page(const Site& site, Db& db, size_t db_ix);
std::string progress_json(Db& db);
/// lowbit status --shard-dir's text for the site's shard directory (its error, if unreadable).
std::string shards_text(const Site& site);
std::string runs_page(const Site& site, Db& db, size_t db_ix, const Params& p);
std::string run_page(const Site& site, Db& db, size_t db_ix, const Params& p);
std::string compare_page(const Site& site, Db& db, size_t db_ix, const Params& p);
/// The experiment's report (lowbit report's HTML, plots included), written to a temporary
/// folder from the database and returned whole.
std::string report_page(const Site& site, size_t db_ix, const Params& p);
/// A page with one line saying what was wrong: status 400, 401, 404, 405 or 500.
std::string error_page(int status, const std::string& message);

/// One curve of an inline SVG chart: per x, the mean and (for cells) the std over seeds.
struct Curve {
  std::string label;
  std::vector<double> x, mean, std;
};
/// A line chart with a band of ±std per curve, axes with ticks, and a legend, as inline SVG.
std::string svg_chart(const std::string& title, const std::string& xlabel, const std::vector<Curve>& curves);

/// Percent-encoding of a query parameter's value.
std::string url_encode(const std::string& s);

}  // namespace lowbit::web
