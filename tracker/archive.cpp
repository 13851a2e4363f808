#include "tracker/archive.h"

#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "core/sha256.h"
#include "core/util.h"
#include "tracker/sqlite.h"
#include "tracker/store.h"

namespace lowbit {

namespace {

using nlohmann::json;

constexpr int kDumpFormat = 1;

// The tables of a dump, parents before children, each with the order of its rows.
struct DumpTable {
  const char* name;
  const char* order;
};
constexpr DumpTable kTables[] = {
    {"experiments", "id"},
    {"diffs", "id"},
    {"runs", "id"},
    {"run_config", "run_id, key"},
    {"metrics", "run_id, epoch, key"},
    {"layer_stats", "run_id, epoch, layer, key"},
    {"summaries", "run_id, key"},
    {"artifacts", "run_id, kind"},
    {"tags", "run_id, tag"},
    {"notes", "id"},
    {"reproductions", "id"},
    {"settle_looks", "experiment_id, look, claim"},
};

json value_json(const SqlValue& v) {
  if (std::holds_alternative<int64_t>(v)) return std::get<int64_t>(v);
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  if (std::holds_alternative<double>(v)) {
    const double d = std::get<double>(v);
    if (std::isfinite(d)) return d;
    return json{{"real", d > 0 ? "inf" : "-inf"}};  // SQLite stores NaN as NULL
  }
  return nullptr;
}

SqlValue json_value(const json& j, const std::string& where) {
  switch (j.type()) {
    case json::value_t::null: return std::monostate{};
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return j.get<int64_t>();
    case json::value_t::number_float: return j.get<double>();
    case json::value_t::string: return j.get<std::string>();
    case json::value_t::object:
      if (j.size() == 1 && j.contains("real") && (j["real"] == "inf" || j["real"] == "-inf"))
        return j["real"] == "inf" ? HUGE_VAL : -HUGE_VAL;
      [[fallthrough]];
    default: throw ConfigError(where + ": a value that is not null, a number, text or {\"real\": \"inf\"}: " + j.dump());
  }
}

std::string gzip(const std::string& text) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)  // +16: a gzip header, mtime 0
    throw StoreError("lowbit dump: zlib could not start compressing");
  std::string out(deflateBound(&z, uLong(text.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = uInt(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw StoreError("lowbit dump: zlib could not compress the dump");
  return out;
}

// The file's text, gunzipped when it is gzip (zlib reads a plain file as it is).
std::string read_dump_file(const std::string& path) {
  if (!is_file(path)) throw ConfigError(path + ": no such dump file (lowbit dump --db DB --out FILE writes one)");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw ConfigError(path + ": cannot open the dump file");
  std::string out;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  int err = Z_OK;
  const std::string why = gzerror(f, &err);
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
    throw ConfigError(path + ": corrupt gzip stream (" + why + "); write it again with lowbit dump");
  return out;
}

// One table's rows as dump lines; its columns into `columns`.
int64_t dump_table(Db& db, const DumpTable& t, json& columns, std::string& out) {
  auto st = db.prepare(fmt::format("SELECT * FROM {} ORDER BY {}", t.name, t.order));
  json cols = json::array();
  for (int i = 0; i < st.columns(); ++i) cols.push_back(st.column_name(i));
  columns[t.name] = cols;
  int64_t rows = 0;
  while (st.step()) {
    json values = json::array();
    for (int i = 0; i < st.columns(); ++i) values.push_back(value_json(st.get(i)));
    out += json::array({t.name, values}).dump() + "\n";
    ++rows;
  }
  return rows;
}

// The columns `table` has in this lowbit's schema.
std::vector<std::string> schema_columns(Db& db, const std::string& table) {
  std::vector<std::string> cols;
  auto st = db.prepare("SELECT name FROM pragma_table_info(?)");
  st.bind(1, table);
  while (st.step()) cols.push_back(st.get_text(0));
  return cols;
}

}  // namespace

std::string dump_text(const std::string& db_path, DumpSummary* summary) {
  if (!is_file(db_path)) throw ConfigError(db_path + ": no such results database");
  Db db(db_path, Db::Mode::kReadOnly);
  db.exec("BEGIN");  // one snapshot while a grid may still be writing
  int schema = 0;
  {
    auto st = db.prepare("SELECT version FROM schema_version");
    if (st.step()) schema = int(st.get_int(0));
  }
  json columns = json::object();
  std::string rows;
  DumpSummary s;
  for (const auto& t : kTables)
    if (db.has_table(t.name)) s.rows[t.name] = dump_table(db, t, columns, rows);
  db.exec("COMMIT");
  const std::string text =
      json{{"lowbit_dump", kDumpFormat}, {"schema", schema}, {"tables", columns}}.dump() + "\n" + rows;
  s.sha256 = sha256_hex(text);
  if (summary) *summary = s;
  return text;
}

DumpSummary dump_database(const std::string& db_path, const std::string& out_path) {
  DumpSummary s;
  const std::string bytes = gzip(dump_text(db_path, &s));
  write_file_atomic(out_path, bytes);
  s.bytes = int64_t(bytes.size());
  return s;
}

std::string data_digest(const std::string& db_path) {
  DumpSummary s;
  dump_text(db_path, &s);
  return s.sha256.substr(0, 16);
}

DumpSummary restore_database(const std::string& dump_path, const std::string& db_path) {
  const std::string text = read_dump_file(dump_path);
  if (::access(db_path.c_str(), F_OK) == 0)
    throw ConfigError(db_path + ": already exists; lowbit restore writes a new database (give another --into path)");
  std::istringstream in(text);
  std::string line;
  json header;
  if (!std::getline(in, line) || !(header = json::parse(line, nullptr, false)).is_object() ||
      header.value("lowbit_dump", 0) != kDumpFormat || !header.contains("tables"))
    throw ConfigError(dump_path + ":1: not a lowbit dump (its first line is the header {\"lowbit_dump\": 1, ...})");
  DumpSummary s;
  s.sha256 = sha256_hex(text);
  Store store(db_path, Store::Open::kMigrate);
  Db& db = store.db();
  std::map<std::string, Statement> inserts;
  for (const auto& [table, cols] : header["tables"].items()) {
    s.rows[table] = 0;
    const auto have = schema_columns(db, table);
    if (have.empty()) throw ConfigError(dump_path + ": table '" + table + "' is not in this lowbit's schema; upgrade lowbit");
    std::vector<std::string> names;
    for (const auto& c : cols) {
      const std::string name = c.get<std::string>();
      if (std::find(have.begin(), have.end(), name) == have.end())
        throw ConfigError(dump_path + ": column " + table + "." + name + " is not in this lowbit's schema (" +
                          std::to_string(Store::kSchemaVersion) + "); upgrade lowbit");
      names.push_back("\"" + name + "\"");
    }
    std::vector<std::string> marks(names.size(), "?");
    inserts.emplace(table, db.prepare("INSERT INTO " + table + "(" + join(names, ", ") + ") VALUES (" +
                                      join(marks, ", ") + ")"));
  }
  Transaction tx(db);
  for (int64_t n = 2; std::getline(in, line); ++n) {
    const std::string where = fmt::format("{}:{}", dump_path, n);
    const json row = json::parse(line, nullptr, false);
    if (!row.is_array() || row.size() != 2 || !row[0].is_string() || !row[1].is_array())
      throw ConfigError(where + ": not a row [\"table\", [values]]; the dump is damaged: write it again with lowbit dump");
    auto it = inserts.find(row[0].get<std::string>());
    if (it == inserts.end()) throw ConfigError(where + ": table '" + row[0].get<std::string>() + "' is not in the header");
    auto& st = it->second;
    if (row[1].size() != header["tables"][it->first].size())
      throw ConfigError(where + fmt::format(": {} values for the {} columns of {}; the dump is damaged: write it again with lowbit dump",
                                            row[1].size(), header["tables"][it->first].size(), it->first));
    for (size_t i = 0; i < row[1].size(); ++i) st.bind(int(i) + 1, json_value(row[1][i], where));
    st.run();
    ++s.rows[it->first];
  }
  tx.commit();
  return s;
}

}  // namespace lowbit
